// autoprotect in Azure: the Functions app (Flex Consumption) with its user-assigned identity, the
// host's storage, Application Insights, the outcome table and workbook in Log Analytics, and, for every
// subscription in scope, the custom role and the subscription's resource-write events.
//
// Deployed to a resource group (azd, the Deploy to Azure button, az deployment group create); the
// custom role and everything per subscription are subscription-scoped modules. Details: README.md.
targetScope = 'resourceGroup'

// ---------------------------------------------------------------------------------------------
// Deployment

@minLength(1)
@maxLength(64)
@description('Name of the environment (azd: AZURE_ENV_NAME); seeds resource names and tags them')
param environmentName string = 'autoprotect'

@description('Region of the resources')
param location string = resourceGroup().location

@description('Subscriptions in scope: the custom role is assigned to the identity and resource-write events are routed to the function in each. Default: this deployment\'s subscription')
param subscriptionIds array = [subscription().subscriptionId]

@description('Create the Event Grid subscriptions to the function. Event Grid refuses them until the function\'s code is deployed, so false on a first deployment (azd up deploys the code, then sets it)')
param subscribeToEvents bool = false

@description('Management group (its name) where the custom role is assignable, instead of each subscription in scope; those subscriptions must be under it')
param managementGroupId string = ''

@description('Display name of the custom role, unique in the tenant. Empty: "autoprotect operator (<resource group>)"')
param customRoleName string = ''

@description('Also assign the built-in Monitoring Reader in each subscription; not needed, the custom role has Microsoft.Insights/Metrics/Read')
param grantMonitoringReader bool = false

@description('Resource group created in each subscription in scope other than this one, for its Event Grid system topic')
param eventsResourceGroupName string = 'rg-autoprotect-events'

@description('Resource id of an existing Log Analytics workspace for Application Insights, the outcome table and the workbook. Empty: a new workspace here')
param existingWorkspaceId string = ''

@minValue(30)
@maxValue(730)
@description('Days a new workspace keeps data')
param workspaceRetentionInDays int = 30

@minValue(30)
@maxValue(730)
@description('Days the outcome table (AutoprotectOutcomes_CL) keeps records')
param outcomeRetentionInDays int = 365

// How far a sweep spreads: the timer queues one look per subscription (and a subscription's look one per
// API Management service); Flex Consumption scales the queue trigger on its own (per-function scaling) to
// about queue length / host.json's queues.batchSize (8) instances, each running up to batchSize +
// newBatchThreshold (8 + 4 = 12) looks at once, never more than maximumInstanceCount instances.
@minValue(40)
@maxValue(1000)
@description('Flex Consumption: most instances the app scales out to (each function scales on its own up to it)')
param maximumInstanceCount int = 100

@minValue(1)
@maxValue(1000)
@description('Flex Consumption: HTTP requests (the reconcile endpoint) one instance serves at once; queued looks run 12 at once per instance (host.json queues.batchSize 8 + newBatchThreshold 4)')
param httpPerInstanceConcurrency int = 16

@allowed([512, 2048, 4096])
@description('Flex Consumption: memory of each instance')
param instanceMemoryMB int = 2048

@description('Tags for every resource')
param tags object = {}

// ---------------------------------------------------------------------------------------------
// autoprotect's configuration (app settings); the defaults are the code's (src/model/config.ts)

@allowed(['enforce', 'audit'])
@description('AUTOPROTECT_MODE: enforce fixes what is missing, audit only reports it')
param mode string = 'enforce'

@description('AUTOPROTECT_WORKSPACE_ID: Log Analytics workspace (resource id) for the Defender sensor. Empty: the workspace the cluster\'s Container insights uses, else manual')
param sensorWorkspaceId string = ''

@description('AUTOPROTECT_AUTHORIZED_IP_RANGES: comma-separated IPv4 CIDRs added to clusters whose API server is open. Empty: manual')
param authorizedIpRanges string = ''

@minValue(1)
@maxValue(32)
@description('AUTOPROTECT_MIN_AUTHORIZED_PREFIX: authorized IP ranges shorter than this prefix are internet-wide: refused in AUTOPROTECT_AUTHORIZED_IP_RANGES, manual on a cluster')
param minAuthorizedPrefix int = 8

@allowed(['P1', 'P2', 'P3', 'P4', 'P5'])
@description('AUTOPROTECT_API_SUBPLAN: Defender for APIs sub-plan when enabling the plan')
param apiSubPlan string = 'P1'

@description('AUTOPROTECT_EXCLUDE_TAG: tag name that excludes a resource or its resource group')
param excludeTag string = 'autoprotect-exclude'

@minValue(1)
@maxValue(100)
@description('AUTOPROTECT_CAPACITY_LIMIT: APIM capacity percent above which onboarding waits')
param capacityLimit int = 60

@description('AUTOPROTECT_SUBSCRIPTIONS: comma-separated allow-list of subscription ids. Empty: every subscription the identity can see (those in subscriptionIds and any added later)')
param subscriptionAllowList string = ''

@minValue(0)
@maxValue(1440)
@description('AUTOPROTECT_ROLLOUT_INTERVAL_MINUTES: pause between onboarding steps of one APIM service')
param rolloutIntervalMinutes int = 10

@description('AUTOPROTECT_STATE_DIR: where the CLI keeps durable state (the Functions app keeps it in Table Storage)')
param stateDir string = './.autoprotect'

@description('AUTOPROTECT_CHECKS: comma-separated check ids to run. Empty: all checks')
param checks string = ''

@description('AUTOPROTECT_SWEEP_SCHEDULE: NCRONTAB schedule of the timer sweep')
param sweepSchedule string = '0 0 */6 * * *'

@minValue(1)
@maxValue(720)
@description('AUTOPROTECT_DEFERRAL_CAP_HOURS: a check deferred longer than this turns manual with its last reason')
param deferralCapHours int = 24

@description('AUTOPROTECT_REMOVE_PLAN_OVERRIDES: remove a cluster\'s own Containers plan that leaves Defender off when the subscription\'s plan it would inherit is at least as strong. false: report it (manual)')
param removePlanOverrides bool = false

@description('AUTOPROTECT_DEFENDER_LAG_HOURS: how long Defender for Cloud may take to follow a change before defender.agreement calls a disagreement lasting. Empty: Defender\'s documented lag (24 h; 1 h for API onboarding)')
param defenderLagHours string = ''

@allowed(['arm', 'resource-graph'])
@description('AUTOPROTECT_DISCOVERY: how the timer sweep finds subscriptions: arm (every one in scope) or resource-graph (only those holding a cluster or an API Management service)')
param discovery string = 'arm'

@minValue(0)
@maxValue(300)
@description('AUTOPROTECT_READ_CACHE_SECONDS: how long a worker keeps the reads its runs share (group tags, workspaces, plan on, Defender assessments); 0 turns it off')
param readCacheSeconds int = 60

@minValue(1)
@maxValue(600)
@description('AUTOPROTECT_CALL_TIMEOUT_SECONDS: one attempt of an Azure call may take this long before it is retried')
param callTimeoutSeconds int = 30

@minValue(1)
@maxValue(3600)
@description('AUTOPROTECT_CALL_DEADLINE_SECONDS: one Azure call, retries included, may take this long')
param callDeadlineSeconds int = 120

@minValue(1)
@maxValue(86400)
@description('AUTOPROTECT_OPERATION_TIMEOUT_SECONDS: waiting for a long-running write (an AKS update) ends after this long; the check is deferred')
param operationTimeoutSeconds int = 1800

@minValue(0)
@maxValue(3600)
@description('AUTOPROTECT_MAX_RETRY_AFTER_SECONDS: the longest Retry-After waited for within a run; longer ones defer the check')
param maxRetryAfterSeconds int = 60

// ---------------------------------------------------------------------------------------------
// Names

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var allTags = union(tags, { 'azd-env-name': environmentName })
var operatorRole = loadJsonContent('autoprotect-role.json')

// The storage the code uses (src/azure/): one queue and its poison queue, four tables.
var reconcileQueueName = 'autoprotect-reconcile'
var queueNames = [reconcileQueueName, '${reconcileQueueName}-poison']
var tableNames = ['AutoprotectRollouts', 'AutoprotectSchedule', 'AutoprotectOutcomeSpool', 'AutoprotectWaits']
var deploymentContainerName = 'app-package'
var deadLetterContainerName = 'eventgrid-deadletter'

// Built-in roles (ids are the same in every tenant).
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

// ---------------------------------------------------------------------------------------------
// Identity and the host's storage (no keys: identity-based connections only)

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: 'id-autoprotect-${resourceToken}'
  location: location
  tags: allTags
}

resource storage 'Microsoft.Storage/storageAccounts@2026-06-01' = {
  name: take('stautoprotect${resourceToken}', 24)
  location: location
  tags: allTags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    supportsHttpsTrafficOnly: true
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    publicNetworkAccess: 'Enabled'
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2026-06-01' = {
  parent: storage
  name: 'default'
}

// The Flex Consumption deployment package.
resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-06-01' = {
  parent: blobService
  name: deploymentContainerName
}

// Events Event Grid could not deliver.
resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-06-01' = {
  parent: blobService
  name: deadLetterContainerName
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2026-06-01' = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2026-06-01' = [
  for name in queueNames: {
    parent: queueService
    name: name
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2026-06-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2026-06-01' = [
  for name in tableNames: {
    parent: tableService
    name: name
  }
]

// The host (blobs: leases, keys, the deployment package; Event Grid's dead letters too), the delayed
// work queue, and the rollout state, schedule ledger and outcome spool tables.
resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in [storageBlobDataOwner, storageQueueDataContributor, storageTableDataContributor]: {
    name: guid(storage.id, identity.id, role)
    scope: storage
    properties: {
      principalId: identity.properties.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    }
  }
]

// ---------------------------------------------------------------------------------------------
// Log Analytics, Application Insights, the outcome table and the workbook

var newWorkspace = empty(existingWorkspaceId)
var existingWorkspaceSegments = split(existingWorkspaceId, '/')

resource workspace 'Microsoft.OperationalInsights/workspaces@2026-03-01' = if (newWorkspace) {
  name: 'log-autoprotect-${resourceToken}'
  location: location
  tags: allTags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: workspaceRetentionInDays
    features: {
      enableLogAccessUsingOnlyResourcePermissions: true
    }
  }
}

var workspaceId = newWorkspace ? workspace.id : existingWorkspaceId
var workspaceName = newWorkspace ? workspace.name : last(existingWorkspaceSegments)
var workspaceSubscriptionId = newWorkspace ? subscription().subscriptionId : existingWorkspaceSegments[2]
var workspaceResourceGroupName = newWorkspace ? resourceGroup().name : existingWorkspaceSegments[4]

resource linkedWorkspace 'Microsoft.OperationalInsights/workspaces@2026-03-01' existing = {
  name: last(existingWorkspaceSegments)
  scope: resourceGroup(workspaceSubscriptionId, workspaceResourceGroupName)
}

// The data collection rule and its endpoint go where the workspace is, in its region.
module outcomes 'modules/outcomes.bicep' = {
  name: 'autoprotect-outcomes-${resourceToken}'
  scope: resourceGroup(workspaceSubscriptionId, workspaceResourceGroupName)
  params: {
    workspaceName: workspaceName
    location: newWorkspace ? location : linkedWorkspace.location
    retentionInDays: outcomeRetentionInDays
    tags: allTags
  }
}

module outcomePublisher 'modules/dcr-publisher.bicep' = {
  name: 'autoprotect-outcome-publisher-${resourceToken}'
  scope: resourceGroup(workspaceSubscriptionId, workspaceResourceGroupName)
  params: {
    dataCollectionRuleName: last(split(outcomes.outputs.ruleId, '/'))
    principalId: identity.properties.principalId
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-autoprotect-${resourceToken}'
  location: location
  tags: allTags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspaceId
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
  }
}

// Local (key) auth is off: telemetry is sent with the identity's token.
resource appInsightsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identity.id, monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
  }
}

// workbook.json with its Workspace parameter preselected: the parameter item (type 9) gets a value.
var workbookContent = loadJsonContent('workbook.json')
var workbookData = union(workbookContent, {
  items: map(
    workbookContent.items,
    item =>
      item.type == 9
        ? union(item, {
            content: union(item.content, {
              parameters: map(
                item.content.?parameters ?? [],
                parameter => parameter.name == 'Workspace' ? union(parameter, { value: workspaceId }) : parameter
              )
            })
          })
        : item
  )
})

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, environmentName, 'autoprotect workbook')
  location: location
  tags: allTags
  kind: 'shared'
  properties: {
    displayName: 'autoprotect (${environmentName})'
    category: 'workbook'
    sourceId: workspaceId
    version: 'Notebook/1.0'
    serializedData: string(workbookData)
  }
}

// ---------------------------------------------------------------------------------------------
// The Function App (Flex Consumption, Node 22)

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: 'plan-autoprotect-${resourceToken}'
  location: location
  tags: allTags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2025-03-01' = {
  name: 'func-autoprotect-${resourceToken}'
  location: location
  tags: union(allTags, { 'azd-service-name': 'autoprotect' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainer.name}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        triggers: {
          http: {
            perInstanceConcurrency: httpPerInstanceConcurrency
          }
        }
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
  dependsOn: [storageRoles]
}

// Every variable the code reads (CONFIG_VARIABLES in src/model/config.ts) has a setting here, except
// `AzureWebJobsStorage` itself: that is the local connection-string form of the same connection, which
// in Azure is identity-based (the `AzureWebJobsStorage__*` settings; shared keys are disabled).
resource appSettings 'Microsoft.Web/sites/config@2025-03-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: {
    AzureWebJobsStorage__accountName: storage.name
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identity.properties.clientId
    // Optional (derived from the account name); explicit so that every variable has a setting.
    AzureWebJobsStorage__tableServiceUri: 'https://${storage.name}.table.${environment().suffixes.storage}'
    AzureWebJobsStorage__queueServiceUri: 'https://${storage.name}.queue.${environment().suffixes.storage}'
    // DefaultAzureCredential signs in as the user-assigned identity.
    AZURE_CLIENT_ID: identity.properties.clientId
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
    AUTOPROTECT_MODE: mode
    AUTOPROTECT_WORKSPACE_ID: sensorWorkspaceId
    AUTOPROTECT_AUTHORIZED_IP_RANGES: authorizedIpRanges
    AUTOPROTECT_MIN_AUTHORIZED_PREFIX: string(minAuthorizedPrefix)
    AUTOPROTECT_API_SUBPLAN: apiSubPlan
    AUTOPROTECT_EXCLUDE_TAG: excludeTag
    AUTOPROTECT_CAPACITY_LIMIT: string(capacityLimit)
    AUTOPROTECT_SUBSCRIPTIONS: subscriptionAllowList
    AUTOPROTECT_ROLLOUT_INTERVAL_MINUTES: string(rolloutIntervalMinutes)
    AUTOPROTECT_STATE_DIR: stateDir
    AUTOPROTECT_CHECKS: checks
    AUTOPROTECT_SWEEP_SCHEDULE: sweepSchedule
    AUTOPROTECT_DEFERRAL_CAP_HOURS: string(deferralCapHours)
    AUTOPROTECT_REMOVE_PLAN_OVERRIDES: string(removePlanOverrides)
    AUTOPROTECT_DEFENDER_LAG_HOURS: defenderLagHours
    AUTOPROTECT_READ_CACHE_SECONDS: string(readCacheSeconds)
    AUTOPROTECT_DISCOVERY: discovery
    AUTOPROTECT_CALL_TIMEOUT_SECONDS: string(callTimeoutSeconds)
    AUTOPROTECT_CALL_DEADLINE_SECONDS: string(callDeadlineSeconds)
    AUTOPROTECT_MAX_RETRY_AFTER_SECONDS: string(maxRetryAfterSeconds)
    AUTOPROTECT_OPERATION_TIMEOUT_SECONDS: string(operationTimeoutSeconds)
    AUTOPROTECT_INGESTION_ENDPOINT: outcomes.outputs.ingestionEndpoint
    AUTOPROTECT_DCR_ID: outcomes.outputs.ruleImmutableId
    AUTOPROTECT_INGESTION_STREAM: outcomes.outputs.streamName
  }
  dependsOn: [appInsightsPublisher, outcomePublisher, queues, tables]
}

// ---------------------------------------------------------------------------------------------
// Scope: the custom role, and each subscription in it

module customRole 'modules/role-definition.bicep' = {
  name: 'autoprotect-role-${resourceToken}'
  scope: subscription()
  params: {
    roleName: empty(customRoleName) ? '${operatorRole.Name} (${resourceGroup().name})' : customRoleName
    roleSeed: resourceGroup().id
    assignableScopes: empty(managementGroupId)
      ? union([toLower(subscription().id)], map(subscriptionIds, id => toLower('/subscriptions/${id}')))
      : [tenantResourceId('Microsoft.Management/managementGroups', managementGroupId)]
  }
}

module subscriptionScope 'modules/subscription-scope.bicep' = [
  for subscriptionId in subscriptionIds: {
    name: 'autoprotect-scope-${uniqueString(resourceToken, subscriptionId)}'
    scope: subscription(subscriptionId)
    params: {
      principalId: identity.properties.principalId
      identityId: identity.id
      roleDefinitionName: customRole.outputs.roleDefinitionName
      functionAppId: functionApp.id
      deadLetterStorageAccountId: storage.id
      deadLetterContainerName: deadLetterContainer.name
      subscribeToEvents: subscribeToEvents
      // This subscription's topic goes in this resource group; the others get one of their own.
      eventsResourceGroupName: subscriptionId =~ subscription().subscriptionId
        ? resourceGroup().name
        : eventsResourceGroupName
      createEventsResourceGroup: subscriptionId !~ subscription().subscriptionId
      location: location
      grantMonitoringReader: grantMonitoringReader
      tags: allTags
    }
    dependsOn: [appSettings, storageRoles]
  }
]

// ---------------------------------------------------------------------------------------------
// Outputs (azd stores them in the environment)

output FUNCTION_APP_NAME string = functionApp.name
output FUNCTION_APP_ID string = functionApp.id
output RECONCILE_URL string = 'https://${functionApp.properties.defaultHostName}/api/reconcile'
output IDENTITY_ID string = identity.id
output IDENTITY_PRINCIPAL_ID string = identity.properties.principalId
output IDENTITY_CLIENT_ID string = identity.properties.clientId
output STORAGE_ACCOUNT_NAME string = storage.name
output STORAGE_ACCOUNT_ID string = storage.id
output DEAD_LETTER_CONTAINER string = deadLetterContainer.name
output LOG_ANALYTICS_WORKSPACE_ID string = workspaceId
output APPLICATIONINSIGHTS_NAME string = appInsights.name
output AUTOPROTECT_INGESTION_ENDPOINT string = outcomes.outputs.ingestionEndpoint
output AUTOPROTECT_DCR_ID string = outcomes.outputs.ruleImmutableId
output CUSTOM_ROLE_DEFINITION_NAME string = customRole.outputs.roleDefinitionName
output CUSTOM_ROLE_DEFINITION_ID string = customRole.outputs.roleDefinitionId
output SUBSCRIPTION_IDS array = subscriptionIds
output WORKBOOK_ID string = workbook.id
