// Puts ONE subscription in autoprotect's scope: the custom role for its identity, and the
// subscription's resource-write events routed to the function. main.bicep uses it once per entry of
// `subscriptionIds`; deployed alone (az deployment sub create), it adds one more subscription.
targetScope = 'subscription'

@description('Principal id of autoprotect\'s user-assigned identity (output IDENTITY_PRINCIPAL_ID)')
param principalId string

@description('Resource id of that identity (output IDENTITY_ID)')
param identityId string

@description('Name (a GUID) of the autoprotect custom role (output CUSTOM_ROLE_DEFINITION_NAME); it must be assignable here')
param roleDefinitionName string

@description('Resource id of the function app (output FUNCTION_APP_ID)')
param functionAppId string

@description('Resource id of the storage account that keeps undeliverable events (output STORAGE_ACCOUNT_ID)')
param deadLetterStorageAccountId string

@description('Blob container for undeliverable events (output DEAD_LETTER_CONTAINER)')
param deadLetterContainerName string = 'eventgrid-deadletter'

@description('Create the event subscription; Event Grid refuses it until the function\'s code is deployed')
param subscribeToEvents bool = true

@description('Resource group in this subscription for its Event Grid system topic')
param eventsResourceGroupName string = 'rg-autoprotect-events'

@description('Create that resource group (false when it exists already, e.g. the app\'s own)')
param createEventsResourceGroup bool = true

@description('Region of the events resource group (the topic itself is global)')
param location string = deployment().location

@description('Name of the system topic (Azure allows one Microsoft.Resources.Subscriptions topic per subscription)')
param systemTopicName string = 'autoprotect-resource-writes'

@description('Name of the event subscription on the topic')
param eventSubscriptionName string = 'autoprotect'

@description('Also assign the built-in Monitoring Reader (not needed: the custom role has Microsoft.Insights/Metrics/Read)')
param grantMonitoringReader bool = false

param tags object = {}

var operatorRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionName)
var monitoringReaderRoleId = subscriptionResourceId(
  'Microsoft.Authorization/roleDefinitions',
  '43d0d8ad-25c7-4714-9337-8ba259a9fe05'
)

resource operator 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, operatorRoleId)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: operatorRoleId
    description: 'autoprotect: read and remediate Defender for Cloud coverage of AKS clusters and APIM APIs'
  }
}

resource monitoringReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantMonitoringReader) {
  name: guid(subscription().id, principalId, monitoringReaderRoleId)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: monitoringReaderRoleId
    description: 'autoprotect: read API Management capacity metrics'
  }
}

resource eventsGroup 'Microsoft.Resources/resourceGroups@2025-04-01' = if (createEventsResourceGroup) {
  name: eventsResourceGroupName
  location: location
  tags: tags
}

module events 'event-subscription.bicep' = {
  name: 'autoprotect-events-${uniqueString(functionAppId)}'
  scope: resourceGroup(eventsResourceGroupName)
  params: {
    systemTopicName: systemTopicName
    eventSubscriptionName: eventSubscriptionName
    identityId: identityId
    functionAppId: functionAppId
    deadLetterStorageAccountId: deadLetterStorageAccountId
    deadLetterContainerName: deadLetterContainerName
    subscribeToEvents: subscribeToEvents
    tags: tags
  }
  dependsOn: [eventsGroup]
}

output operatorRoleAssignmentId string = operator.id
output systemTopicId string = events.outputs.systemTopicId
