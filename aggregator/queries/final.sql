-- chargeback_daily: priced groups with their PTU share (NULL when unpriced), plus one ptu_idle row per PTU
-- deployment-day without traffic.
SELECT
    p.date, p.subscription_id, p.subscription_name, p.product_id, p.team, p.attribution, p.cost_center, p.owner,
    p.tags, p.deployment, p.model,
    p.deployment_type, p.region, p.requests, p.successful, p.failed, p.requests_without_usage,
    p.prompt_tokens, p.cached_tokens, p.completion_tokens, p.reasoning_tokens, p.total_tokens, p.unpriced_tokens,
    p.input_cost, p.cached_input_cost, p.output_cost, p.reasoning_cost,
    (p.input_cost + p.cached_input_cost + p.output_cost)::{{COST}} AS token_cost,
    (CASE WHEN p.pricing_status = 'unpriced' THEN NULL ELSE coalesce(a.ptu_cost, 0) END)::{{COST}} AS ptu_cost,
    (p.input_cost + p.cached_input_cost + p.output_cost
        + CASE WHEN p.pricing_status = 'unpriced' THEN NULL ELSE coalesce(a.ptu_cost, 0) END)::{{COST}}
        AS total_cost,
    p.currency, p.pricing_status, p.unpriced_reason,
    p.price_id, p.input_per_1m, p.cached_input_per_1m, p.output_per_1m
FROM priced p LEFT JOIN ptu_costs a USING (gid)
UNION ALL BY NAME
SELECT
    date, NULL AS subscription_id, NULL AS subscription_name, NULL AS product_id, NULL AS team,
    NULL AS attribution, NULL AS cost_center, NULL AS owner, '{}' AS tags,
    deployment, NULL AS model, 'provisioned' AS deployment_type, NULL AS region,
    0::BIGINT AS requests, 0::BIGINT AS successful, 0::BIGINT AS failed, 0::BIGINT AS requests_without_usage,
    0::BIGINT AS prompt_tokens, 0::BIGINT AS cached_tokens, 0::BIGINT AS completion_tokens,
    0::BIGINT AS reasoning_tokens, 0::BIGINT AS total_tokens, 0::BIGINT AS unpriced_tokens,
    0::{{COST}} AS input_cost, 0::{{COST}} AS cached_input_cost, 0::{{COST}} AS output_cost,
    0::{{COST}} AS reasoning_cost, 0::{{COST}} AS token_cost, allocated_cost::{{COST}} AS ptu_cost,
    allocated_cost::{{COST}} AS total_cost, currency, 'ptu_idle' AS pricing_status, NULL AS unpriced_reason,
    NULL AS price_id, NULL::{{PRICE}} AS input_per_1m, NULL::{{PRICE}} AS cached_input_per_1m,
    NULL::{{PRICE}} AS output_per_1m
FROM ptu_allocation WHERE status = 'idle'
ORDER BY ALL
