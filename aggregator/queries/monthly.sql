-- chargeback_monthly: the month's daily rows summed per key.
SELECT
    strftime(date, '%Y-%m') AS month,
    subscription_id, subscription_name, product_id, team, attribution, cost_center, owner, tags, deployment, model,
    deployment_type, region, currency, pricing_status, unpriced_reason,
    sum(requests)::BIGINT AS requests, sum(successful)::BIGINT AS successful, sum(failed)::BIGINT AS failed,
    sum(requests_without_usage)::BIGINT AS requests_without_usage,
    sum(prompt_tokens)::BIGINT AS prompt_tokens, sum(cached_tokens)::BIGINT AS cached_tokens,
    sum(completion_tokens)::BIGINT AS completion_tokens, sum(reasoning_tokens)::BIGINT AS reasoning_tokens,
    sum(total_tokens)::BIGINT AS total_tokens, sum(unpriced_tokens)::BIGINT AS unpriced_tokens,
    sum(input_cost)::{{COST}} AS input_cost, sum(cached_input_cost)::{{COST}} AS cached_input_cost,
    sum(output_cost)::{{COST}} AS output_cost, sum(reasoning_cost)::{{COST}} AS reasoning_cost,
    sum(token_cost)::{{COST}} AS token_cost, sum(ptu_cost)::{{COST}} AS ptu_cost,
    sum(total_cost)::{{COST}} AS total_cost,
    string_agg(DISTINCT price_id, ';' ORDER BY price_id) AS price_ids,
    count(DISTINCT date)::BIGINT AS days
FROM month_daily
GROUP BY ALL
ORDER BY ALL
