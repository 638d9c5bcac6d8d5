-- Price each chargeback group with the row in force on $day (exact model before the model without its date
-- suffix, exact region before '*'); costs as exact DECIMAL; unpriced groups get NULL costs and a reason.
WITH g AS (
    -- gid follows the chargeback key, so PTU cents split between equal shares go the same way on every run
    SELECT row_number() OVER (
        ORDER BY subscription_id, subscription_name, product_id, team, attribution, cost_center, owner, tags,
                 deployment, model, reported_region, unsplit) AS gid, *
    FROM grouped),
resolved AS (
    SELECT g.*,
        CASE WHEN ptu.deployment IS NOT NULL THEN 'provisioned'
             ELSE coalesce(d.deployment_type, star.deployment_type) END AS deployment_type,
        coalesce(d.region, CASE WHEN d.deployment IS NULL THEN star.region END, g.reported_region) AS region,
        ptu.deployment IS NOT NULL AS has_ptu,
        ptu.currency AS ptu_currency,
        g.prompt_tokens + g.completion_tokens AS billable_tokens
    FROM g
    LEFT JOIN deployments d ON d.deployment = g.deployment
    LEFT JOIN (SELECT * FROM deployments WHERE deployment = '*') star ON true
    LEFT JOIN ptu_today ptu ON ptu.deployment = g.deployment
),
candidates AS (
    SELECT r.gid, p.*
    FROM resolved r JOIN prices p
      ON p.deployment_type = r.deployment_type
     AND (p.model = r.model OR p.model = regexp_replace(r.model, '-\d{4}-\d{2}-\d{2}$', ''))
     AND (p.region = '*' OR p.region = r.region)
     AND (p.effective_from IS NULL OR p.effective_from <= $day)
     AND (p.effective_to IS NULL OR $day < p.effective_to)
    QUALIFY row_number() OVER (
        PARTITION BY r.gid ORDER BY (p.model = r.model) DESC, (p.region <> '*') DESC) = 1
),
status AS (
    SELECT r.*, c.price_id, c.currency AS price_currency, c.input_per_1m, c.cached_input_per_1m, c.output_per_1m,
        CASE
            WHEN r.billable_tokens = 0 AND r.unsplit_tokens = 0 THEN NULL
            WHEN r.deployment_type = 'provisioned' AND r.has_ptu THEN NULL
            WHEN r.unsplit_tokens > 0 THEN 'tokens_not_split'
            WHEN r.deployment_type IS NULL THEN 'unknown_deployment'
            WHEN r.deployment_type = 'provisioned' THEN 'no_ptu_config'
            WHEN r.model IS NULL THEN 'no_model'
            WHEN c.gid IS NULL THEN 'no_price'
            WHEN r.completion_tokens > 0 AND c.output_per_1m IS NULL THEN 'no_output_price'
        END AS unpriced_reason
    FROM resolved r LEFT JOIN candidates c USING (gid)
),
costed AS (
    SELECT s.*,
        CASE WHEN unpriced_reason IS NOT NULL THEN 'unpriced'
             WHEN billable_tokens = 0 AND unsplit_tokens = 0 THEN 'no_tokens'
             WHEN deployment_type = 'provisioned' THEN 'ptu'
             ELSE 'priced' END AS pricing_status,
        0.000001::DECIMAL(7,6) AS per_token
    FROM status s
)
SELECT
    gid,
    $day::DATE AS date,
    subscription_id, subscription_name, product_id, team, attribution, cost_center, owner, tags,
    deployment, model, deployment_type, region,
    requests::BIGINT AS requests, successful::BIGINT AS successful, failed::BIGINT AS failed,
    requests_without_usage::BIGINT AS requests_without_usage,
    prompt_tokens, cached_tokens, completion_tokens, reasoning_tokens, total_tokens,
    (billable_tokens + unsplit_tokens)::BIGINT AS share_tokens,
    (CASE WHEN pricing_status = 'unpriced' THEN
        CASE WHEN unsplit_tokens > 0 THEN unsplit_tokens ELSE billable_tokens END ELSE 0 END)::BIGINT
        AS unpriced_tokens,
    pricing_status, unpriced_reason,
    CASE WHEN pricing_status = 'priced' THEN price_id END AS price_id,
    CASE WHEN pricing_status = 'priced' THEN price_currency
         WHEN pricing_status = 'ptu' THEN ptu_currency END AS currency,
    CASE WHEN pricing_status = 'priced' THEN input_per_1m END AS input_per_1m,
    CASE WHEN pricing_status = 'priced' THEN coalesce(cached_input_per_1m, input_per_1m) END AS cached_input_per_1m,
    CASE WHEN pricing_status = 'priced' THEN output_per_1m END AS output_per_1m,
    CASE pricing_status WHEN 'priced' THEN (prompt_tokens - cached_tokens)::DECIMAL(38,0) * input_per_1m * per_token
        WHEN 'unpriced' THEN NULL ELSE 0 END::{{COST}} AS input_cost,
    CASE pricing_status WHEN 'priced'
            THEN cached_tokens::DECIMAL(38,0) * coalesce(cached_input_per_1m, input_per_1m) * per_token
        WHEN 'unpriced' THEN NULL ELSE 0 END::{{COST}} AS cached_input_cost,
    CASE pricing_status WHEN 'priced' THEN completion_tokens::DECIMAL(38,0) * coalesce(output_per_1m, 0) * per_token
        WHEN 'unpriced' THEN NULL ELSE 0 END::{{COST}} AS output_cost,
    CASE pricing_status WHEN 'priced' THEN reasoning_tokens::DECIMAL(38,0) * coalesce(output_per_1m, 0) * per_token
        WHEN 'unpriced' THEN NULL ELSE 0 END::{{COST}} AS reasoning_cost
FROM costed
