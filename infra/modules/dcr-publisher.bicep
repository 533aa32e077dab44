// Lets autoprotect's identity send outcomes through the data collection rule (Logs Ingestion API).
// Deployed where the rule is: beside the Log Analytics workspace (see outcomes.bicep).

@description('Name of the data collection rule')
param dataCollectionRuleName string

@description('Principal id of autoprotect\'s user-assigned identity')
param principalId string

// Monitoring Metrics Publisher: Microsoft.Insights/Telemetry/Write, which the Logs Ingestion API checks.
var monitoringMetricsPublisher = subscriptionResourceId(
  'Microsoft.Authorization/roleDefinitions',
  '3913510d-42f4-4e42-8a64-420c390055eb'
)

resource rule 'Microsoft.Insights/dataCollectionRules@2024-03-11' existing = {
  name: dataCollectionRuleName
}

resource publisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(rule.id, principalId, monitoringMetricsPublisher)
  scope: rule
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: monitoringMetricsPublisher
    description: 'autoprotect: send outcome records to Log Analytics'
  }
}
