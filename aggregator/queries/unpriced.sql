-- unpriced: every token without a price, with its reason.
SELECT date, subscription_id, subscription_name, product_id, team, attribution, tags, deployment, model,
    deployment_type, region, unpriced_reason AS reason, requests, unpriced_tokens,
    prompt_tokens, cached_tokens, completion_tokens, reasoning_tokens, total_tokens
FROM daily WHERE pricing_status = 'unpriced'
ORDER BY ALL
