// One subscription's resource writes, delivered to the function's Event Grid trigger: the
// subscription's system topic and, once the function's code is deployed, the event subscription.
// The filter is ../event-filter.json: the event types and operation-name prefixes the handler acts on
// (src/events/parse.ts), so only writes that can matter are delivered.

@description('Name of the system topic for this subscription (Azure allows one per subscription)')
param systemTopicName string

@description('Name of the event subscription on that topic')
param eventSubscriptionName string

@description('Resource id of autoprotect\'s user-assigned identity: the topic dead-letters with it')
param identityId string

@description('Resource id of the function app')
param functionAppId string

@description('Resource id of the storage account that keeps undeliverable events')
param deadLetterStorageAccountId string

@description('Blob container for undeliverable events')
param deadLetterContainerName string

@description('Create the event subscription: Event Grid checks that the function exists, so only once the code is deployed')
param subscribeToEvents bool

param tags object = {}

var eventFilter = loadJsonContent('../event-filter.json')
var functionName = 'resourceEvents'

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: systemTopicName
  location: 'global'
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

resource events 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = if (subscribeToEvents) {
  parent: topic
  name: eventSubscriptionName
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/${functionName}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: eventFilter.includedEventTypes
      advancedFilters: [
        {
          operatorType: 'StringBeginsWith'
          key: 'data.operationName'
          values: eventFilter.operationNamePrefixes
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'UserAssigned'
        userAssignedIdentity: identityId
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageAccountId
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output systemTopicId string = topic.id
