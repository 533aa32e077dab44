// Where outcomes land: the custom table, the data collection endpoint and rule that feed it.
// Table and stream take their columns from the same file, which a test holds to the outcome record.

@description('Log Analytics workspace that receives the outcomes')
param workspaceName string

@description('Region of the data collection endpoint and rule (the workspace\'s region)')
param location string

@description('Days the outcome table keeps records')
@minValue(30)
@maxValue(730)
param retentionInDays int = 365

param tags object = {}

var columns = loadJsonContent('../outcome-columns.json')
var tableName = 'AutoprotectOutcomes_CL'
var streamName = 'Custom-AutoprotectOutcomes'

resource workspace 'Microsoft.OperationalInsights/workspaces@2026-03-01' existing = {
  name: workspaceName
}

resource table 'Microsoft.OperationalInsights/workspaces/tables@2026-03-01' = {
  parent: workspace
  name: tableName
  properties: {
    plan: 'Analytics'
    retentionInDays: retentionInDays
    schema: {
      name: tableName
      columns: columns
    }
  }
}

resource endpoint 'Microsoft.Insights/dataCollectionEndpoints@2024-03-11' = {
  name: 'dce-autoprotect-${uniqueString(workspace.id)}'
  location: location
  tags: tags
  properties: {
    networkAcls: {
      publicNetworkAccess: 'Enabled'
    }
  }
}

resource rule 'Microsoft.Insights/dataCollectionRules@2024-03-11' = {
  name: 'dcr-autoprotect-${uniqueString(workspace.id)}'
  location: location
  tags: tags
  properties: {
    dataCollectionEndpointId: endpoint.id
    streamDeclarations: {
      '${streamName}': {
        columns: columns
      }
    }
    destinations: {
      logAnalytics: [
        {
          name: 'outcomes'
          workspaceResourceId: workspace.id
        }
      ]
    }
    dataFlows: [
      {
        streams: [streamName]
        destinations: ['outcomes']
        transformKql: 'source'
        outputStream: 'Custom-${tableName}'
      }
    ]
  }
  dependsOn: [table]
}

@description('AUTOPROTECT_INGESTION_ENDPOINT')
output ingestionEndpoint string = endpoint.properties.logsIngestion.endpoint

@description('AUTOPROTECT_DCR_ID')
output ruleImmutableId string = rule.properties.immutableId

output ruleId string = rule.id
output streamName string = streamName
output tableName string = tableName
