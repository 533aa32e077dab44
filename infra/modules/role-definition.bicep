// The autoprotect custom role: exactly the actions in ../autoprotect-role.json, the one list of what
// autoprotect may do (its AssignableScopes there is a placeholder; the deployment sets the real ones).
targetScope = 'subscription'

@description('Display name of the role; unique in the tenant')
param roleName string

@description('Where the role can be assigned: the subscriptions in scope, or one management group')
param assignableScopes array

@description('Seed for the role definition\'s GUID: the same seed updates the same role')
param roleSeed string

var role = loadJsonContent('../autoprotect-role.json')

resource definition 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(roleSeed, 'autoprotect operator')
  properties: {
    roleName: roleName
    description: role.Description
    type: 'CustomRole'
    assignableScopes: assignableScopes
    permissions: [
      {
        actions: role.Actions
        notActions: role.NotActions
        dataActions: role.DataActions
        notDataActions: role.NotDataActions
      }
    ]
  }
}

@description('The role definition\'s name (a GUID): the `roleDefinitionName` of subscription-scope.bicep')
output roleDefinitionName string = definition.name

output roleDefinitionId string = definition.id
