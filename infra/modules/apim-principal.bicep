// Reads the system-assigned identity of an existing API Management service (enable it first: see
// infra/README.md). The logger then authenticates as that identity.
param apimName string

resource apim 'Microsoft.ApiManagement/service@2024-05-01' existing = {
  name: apimName
}

output principalId string = apim.identity.principalId
