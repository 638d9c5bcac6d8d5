// Near-real-time signals as Azure Monitor metric alert rules, all routed to one action group (e-mail and/or a
// webhook). Two sources: the metrics the consumer exports through OpenTelemetry to Application Insights (custom
// metrics, namespace azure.applicationinsights: validation is skipped so the rules can exist before the first
// point is emitted), and API Management's own platform metrics (Requests by gateway response code, Duration).
// The nightly `chargeback alerts evaluate` computes the slower, ledger-based rules (README, "Alert rules").
param tags object
param appInsightsId string
param apimId string
param actionGroupName string

@description('E-mail address for alerts; empty: none.')
param alertEmail string = ''

@secure()
@description('Webhook (common alert schema) for alerts; empty: none. A secret: Teams/Slack URLs carry a token.')
param alertWebhookUrl string = ''

@description('Usage records written per minute above which the request rate alerts.')
param requestsPerMinute int = 1000

@description('Events the consumer is behind on one partition (last enqueued minus processed sequence number).')
param consumerLagEvents int = 10000

@description('Dead letters per 5 minutes that alert.')
param deadLettersPer5Min int = 1

@description('Gateway 5xx answers per 5 minutes that alert.')
param serverErrorsPer5Min int = 50

@description('Gateway 429 answers per 5 minutes that alert.')
param throttledPer5Min int = 100

@description('Gateway 401/403 answers per 5 minutes that alert (failed authentication bursts).')
param authFailuresPer5Min int = 20

@description('Average gateway duration in milliseconds that alerts.')
param latencyMs int = 2000

var consumerNamespace = 'azure.applicationinsights'
var emailReceivers = empty(alertEmail) ? [] : [
  {
    name: 'finops-email'
    emailAddress: alertEmail
    useCommonAlertSchema: true
  }
]
var webhookReceivers = empty(alertWebhookUrl) ? [] : [
  {
    name: 'finops-webhook'
    serviceUri: alertWebhookUrl
    useCommonAlertSchema: true
  }
]
var rules = [
  {
    name: 'chargeback-request-rate'
    description: 'Usage records written per minute above the ceiling (request-rate spike).'
    scope: appInsightsId
    namespace: consumerNamespace
    metric: 'chargeback.consumer.records_written'
    aggregation: 'Total'
    threshold: requestsPerMinute
    window: 'PT1M'
    severity: 2
    dimensions: [
      {
        name: 'table'
        operator: 'Include'
        values: [
          'usage'
        ]
      }
    ]
    custom: true
  }
  {
    name: 'chargeback-consumer-lag'
    description: 'The consumer is falling behind Event Hubs.'
    scope: appInsightsId
    namespace: consumerNamespace
    metric: 'chargeback.consumer.partition_lag'
    aggregation: 'Maximum'
    threshold: consumerLagEvents
    window: 'PT5M'
    severity: 2
    dimensions: []
    custom: true
  }
  {
    name: 'chargeback-dead-letters'
    description: 'The consumer rejected messages (dead letters per 5 minutes).'
    scope: appInsightsId
    namespace: consumerNamespace
    metric: 'chargeback.consumer.dead_letters'
    aggregation: 'Total'
    threshold: deadLettersPer5Min - 1
    window: 'PT5M'
    severity: 3
    dimensions: []
    custom: true
  }
  {
    name: 'chargeback-gateway-5xx'
    description: 'API Management answered 5xx.'
    scope: apimId
    namespace: 'Microsoft.ApiManagement/service'
    metric: 'Requests'
    aggregation: 'Total'
    threshold: serverErrorsPer5Min
    window: 'PT5M'
    severity: 1
    dimensions: [
      {
        name: 'GatewayResponseCodeCategory'
        operator: 'Include'
        values: [
          '5xx'
        ]
      }
    ]
    custom: false
  }
  {
    name: 'chargeback-gateway-429'
    description: 'API Management answered 429 (throttled by the backend or a policy).'
    scope: apimId
    namespace: 'Microsoft.ApiManagement/service'
    metric: 'Requests'
    aggregation: 'Total'
    threshold: throttledPer5Min
    window: 'PT5M'
    severity: 2
    dimensions: [
      {
        name: 'GatewayResponseCode'
        operator: 'Include'
        values: [
          '429'
        ]
      }
    ]
    custom: false
  }
  {
    name: 'chargeback-gateway-auth-failures'
    description: 'A burst of 401/403 answers (failed authentication).'
    scope: apimId
    namespace: 'Microsoft.ApiManagement/service'
    metric: 'Requests'
    aggregation: 'Total'
    threshold: authFailuresPer5Min
    window: 'PT5M'
    severity: 1
    dimensions: [
      {
        name: 'GatewayResponseCode'
        operator: 'Include'
        values: [
          '401'
          '403'
        ]
      }
    ]
    custom: false
  }
  {
    name: 'chargeback-gateway-latency'
    description: 'Average gateway duration above the latency ceiling.'
    scope: apimId
    namespace: 'Microsoft.ApiManagement/service'
    metric: 'Duration'
    aggregation: 'Average'
    threshold: latencyMs
    window: 'PT5M'
    severity: 3
    dimensions: []
    custom: false
  }
]

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'chargeback'
    enabled: true
    emailReceivers: emailReceivers
    webhookReceivers: webhookReceivers
  }
}

resource metricAlerts 'Microsoft.Insights/metricAlerts@2018-03-01' = [
  for rule in rules: {
    name: rule.name
    location: 'global'
    tags: tags
    properties: {
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [
        rule.scope
      ]
      evaluationFrequency: 'PT1M'
      windowSize: rule.window
      autoMitigate: true
      criteria: {
        'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
        allOf: [
          {
            criterionType: 'StaticThresholdCriterion'
            name: rule.name
            metricNamespace: rule.namespace
            metricName: rule.metric
            timeAggregation: rule.aggregation
            operator: 'GreaterThan'
            threshold: rule.threshold
            dimensions: rule.dimensions
            skipMetricValidation: rule.custom
          }
        ]
      }
      actions: [
        {
          actionGroupId: actionGroup.id
        }
      ]
    }
  }
]

output actionGroupId string = actionGroup.id
