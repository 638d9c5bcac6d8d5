-- unmapped: usage whose APIM subscription/product the teams map does not name that day.
SELECT date, subscription_id, subscription_name, product_id, deployment, model, deployment_type, region,
    pricing_status, requests, prompt_tokens, completion_tokens, total_tokens, total_cost, currency
FROM daily WHERE attribution = 'unmapped'
ORDER BY ALL
