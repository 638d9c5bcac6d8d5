// Budget enforcement inside API Management (finops/, `chargeback budgets enforce`): the named value the enforcement
// fragment reads, the fragment itself, and the nightly job's permission to change exactly two things: APIM
// subscriptions (suspend / reactivate) and named values. A custom role holding only those four actions, assigned
// on this one APIM service, is narrower than any built-in role (API Management Service Contributor can change
// everything in the service). Deployed in the resource group of the API Management service, new or existing.
param apimName string

@description('Principal id of the nightly job identity (the only caller of the management API).')
param enforcerPrincipalId string

@description('Named value listing the throttled scopes; the job rewrites it, a redeploy resets it to none.')
param enforcementNamedValue string = 'chargeback-enforcement'

var enforcerActions = [
  'Microsoft.ApiManagement/service/subscriptions/read'
  'Microsoft.ApiManagement/service/subscriptions/write'
  'Microsoft.ApiManagement/service/namedValues/read'
  'Microsoft.ApiManagement/service/namedValues/write'
]

resource apim 'Microsoft.ApiManagement/service@2024-05-01' existing = {
  name: apimName
}

resource enforcement 'Microsoft.ApiManagement/service/namedValues@2024-05-01' = {
  parent: apim
  name: enforcementNamedValue
  properties: {
    displayName: enforcementNamedValue
    value: 'none'
    secret: false
  }
}

resource enforcementFragment 'Microsoft.ApiManagement/service/policyFragments@2024-05-01' = {
  parent: apim
  name: 'chargeback-enforcement'
  properties: {
    description: 'apim-chargeback budget enforcement: 429 for scopes listed in the named value'
    format: 'rawxml'
    value: loadTextContent('../../finops/policy/chargeback-enforcement.xml')
  }
  dependsOn: [
    enforcement
  ]
}

resource enforcerRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, apimName, 'apim-chargeback-budget-enforcer')
  properties: {
    roleName: 'apim-chargeback budget enforcer (${apimName})'
    description: 'Suspend/reactivate APIM subscriptions and set named values of one API Management service.'
    type: 'CustomRole'
    permissions: [
      {
        actions: enforcerActions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource enforcerAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(apim.id, enforcerPrincipalId, 'apim-chargeback-budget-enforcer')
  scope: apim
  properties: {
    roleDefinitionId: enforcerRole.id
    principalId: enforcerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output enforcementNamedValue string = enforcement.name
