@{
        // Usage record v1 (schemas/README.md section 4). Token fields are copied from what the backend reported,
        // never defaulted: whenever usage_source is not reported / stream_reported they are all null.
        bool onError = %%ON_ERROR%%;
        int status = 0;
        try { status = context.Response != null ? context.Response.StatusCode : 0; } catch { status = 0; }
        if (onError && status < 400) { status = 500; }
        if (status < 100 || status > 599) { status = 500; }
        try {
            Func<string, JToken> bounded = s => s == null ? (JToken)JValue.CreateNull() : new JValue(s.Length > 256 ? s.Substring(0, 256) : s);
            Func<JToken, string> text = t => t != null && t.Type == JTokenType.String ? (string)t : null;
            Func<JToken, string> codeOf = t => {
                var err = t as JObject;
                if (err == null || err["code"] == null || err["code"].Type == JTokenType.Null) { return null; }
                return err["code"].Type == JTokenType.String ? (string)err["code"] : JsonConvert.SerializeObject(err["code"]);
            };
            Func<JToken, JToken> count = t => {
                try {
                    if (t != null && t.Type == JTokenType.Integer) {
                        long v = (long)t;
                        if (v >= 0 && v <= 9007199254740992L) { return new JValue(v); }
                    }
                } catch { }
                return JValue.CreateNull();
            };

            string path = "";
            string originalPath = "";
            string apiVersion = null;
            try {
                var url = context.Request.OriginalUrl ?? context.Request.Url;
                originalPath = url.Path ?? "";
                path = originalPath.TrimEnd('/').ToLowerInvariant();
                string[] versions;
                if (url.Query != null && url.Query.TryGetValue("api-version", out versions) && versions != null && versions.Length > 0) { apiVersion = versions[0]; }
            } catch { }
            string operation = "other";
            if (path.EndsWith("/chat/completions", StringComparison.Ordinal)) { operation = "chat.completions"; }
            else if (path.EndsWith("/completions", StringComparison.Ordinal)) { operation = "completions"; }
            else if (path.EndsWith("/embeddings", StringComparison.Ordinal)) { operation = "embeddings"; }
            else if (path.EndsWith("/responses", StringComparison.Ordinal) || path.Contains("/responses/")) { operation = "responses"; }
            else if (path.Contains("/images/")) { operation = "images"; }
            else if (path.Contains("/audio/")) { operation = "audio"; }

            bool stream = false;
            string bodyModel = null;
            try {
                var info = context.Variables.ContainsKey("cb-request") ? context.Variables["cb-request"] as JObject : null;
                if (info != null) {
                    stream = info["stream"] != null && info["stream"].Type == JTokenType.Boolean && (bool)info["stream"];
                    bodyModel = text(info["model"]);
                }
            } catch { }

            string deployment = null;
            try {
                string matched;
                if (context.Request.MatchedParameters != null && context.Request.MatchedParameters.TryGetValue("deployment-id", out matched) && !string.IsNullOrEmpty(matched)) { deployment = matched; }
                if (deployment == null) {
                    var m = Regex.Match(originalPath, "/deployments/([^/]+)", RegexOptions.IgnoreCase);
                    if (m.Success) { deployment = Uri.UnescapeDataString(m.Groups[1].Value); }
                }
                if (deployment == null && path.Contains("/openai/v1/")) { deployment = bodyModel; }
            } catch { }

            string source = "unreadable";
            JObject usage = null;
            string model = null;
            string errorCode = null;
            bool isError = status >= 400;
            if (onError) {
                source = "error_response";
                try { if (context.LastError != null) { errorCode = context.LastError.Reason; } } catch { }
            } else {
                try {
                    string read = context.Variables.ContainsKey("cb-response-read") ? context.Variables["cb-response-read"] as string : null;
                    string body = context.Variables.ContainsKey("cb-response-text") ? context.Variables["cb-response-text"] as string : null;
                    if (read == "stream_not_read") { source = "stream_not_read"; }
                    else if (read == "sse" && body != null) {
                        bool anyEvent = false;
                        string[] lines = body.Split('\n');
                        for (int i = 0; i < lines.Length; i++) {
                            string line = lines[i].TrimEnd('\r');
                            if (!line.StartsWith("data:", StringComparison.Ordinal)) { continue; }
                            string data = line.Substring(5).Trim();
                            if (data.Length == 0 || data == "[DONE]") { continue; }
                            JObject evt = null;
                            try { evt = JObject.Parse(data); } catch { evt = null; }
                            if (evt == null) { continue; }
                            anyEvent = true;
                            var u = evt["usage"] as JObject;
                            if (u != null) { usage = u; }
                            string m = text(evt["model"]);
                            if (!string.IsNullOrEmpty(m)) { model = m; }
                            var inner = evt["response"] as JObject;
                            if (inner != null) {
                                var ru = inner["usage"] as JObject;
                                if (ru != null) { usage = ru; }
                                string rm = text(inner["model"]);
                                if (!string.IsNullOrEmpty(rm)) { model = rm; }
                            }
                            string ec = codeOf(evt["error"]);
                            if (ec != null) { errorCode = ec; }
                        }
                        source = usage != null ? "stream_reported" : (anyEvent ? "stream_no_usage" : "unreadable");
                    }
                    else if (read == "read" && body != null) {
                        JObject json = null;
                        try { json = JObject.Parse(body); } catch { json = null; }
                        if (json != null) {
                            model = text(json["model"]);
                            errorCode = codeOf(json["error"]);
                            usage = json["usage"] as JObject;
                            source = usage != null ? "reported" : "missing";
                        }
                    }
                } catch { source = "unreadable"; usage = null; }
            }

            JToken prompt = JValue.CreateNull(), completion = JValue.CreateNull(), total = JValue.CreateNull();
            JToken cached = JValue.CreateNull(), reasoning = JValue.CreateNull();
            if (usage != null && (source == "reported" || source == "stream_reported")) {
                bool responsesStyle = usage["input_tokens"] != null || usage["output_tokens"] != null;
                prompt = count(usage[responsesStyle ? "input_tokens" : "prompt_tokens"]);
                completion = count(usage[responsesStyle ? "output_tokens" : "completion_tokens"]);
                total = count(usage["total_tokens"]);
                var inDetails = usage[responsesStyle ? "input_tokens_details" : "prompt_tokens_details"] as JObject;
                var outDetails = usage[responsesStyle ? "output_tokens_details" : "completion_tokens_details"] as JObject;
                if (inDetails != null) { cached = count(inDetails["cached_tokens"]); }
                if (outDetails != null) { reasoning = count(outDetails["reasoning_tokens"]); }
                if (prompt.Type == JTokenType.Null && completion.Type == JTokenType.Null && total.Type == JTokenType.Null) {
                    source = "missing";
                    cached = JValue.CreateNull();
                    reasoning = JValue.CreateNull();
                }
            }
            if (isError && source != "reported" && source != "stream_reported") { source = "error_response"; }

            string region = null;
            try { if (context.Response != null) { region = context.Response.Headers.GetValueOrDefault("x-ms-region", ""); if (region == "") { region = null; } } } catch { }
            string backendId = null;
            try {
                backendId = context.Variables.ContainsKey("chargeback-backend-id") ? context.Variables["chargeback-backend-id"] as string : null;
                if (string.IsNullOrEmpty(backendId)) { backendId = context.Request.Url.Host; }
            } catch { }

            string clientIp = null;
            try {
                string ipMode = "{{chargeback-client-ip}}".Trim().ToLowerInvariant();
                string ip = context.Request.IpAddress;
                if (!string.IsNullOrEmpty(ip)) {
                    if (ipMode == "plain") { clientIp = ip; }
                    else if (ipMode == "hashed") {
                        var mac = new HMACSHA256(Encoding.UTF8.GetBytes(@"{{chargeback-ip-salt}}"));
                        byte[] digest = mac.ComputeHash(Encoding.UTF8.GetBytes(ip));
                        var hex = new StringBuilder(64);
                        for (int i = 0; i < digest.Length; i++) { hex.Append(digest[i].ToString("x2")); }
                        clientIp = hex.ToString();
                    }
                }
            } catch { clientIp = null; }

            var tags = new JObject();
            try {
                string[] names = "{{chargeback-tag-headers}}".Split(',');
                for (int i = 0; i < names.Length && tags.Count < 32; i++) {
                    string name = names[i].Trim();
                    string lower = name.ToLowerInvariant();
                    if (lower.Length == 0 || lower.Contains("authorization") || lower.Contains("key") || lower.Contains("secret")
                        || lower.Contains("token") || lower.Contains("password") || lower.Contains("cookie") || lower.Contains("signature")) { continue; }
                    string[] values;
                    if (context.Request.Headers == null || !context.Request.Headers.TryGetValue(name, out values) || values == null) { continue; }
                    string value = string.Join(",", values);
                    string key = lower.StartsWith("x-", StringComparison.Ordinal) ? lower.Substring(2) : lower;
                    if (key.Length == 0) { continue; }
                    tags[key.Length > 64 ? key.Substring(0, 64) : key] = value.Length > 256 ? value.Substring(0, 256) : value;
                }
            } catch { }

            string eventTime = context.Timestamp.ToString("o");
            if (!eventTime.EndsWith("Z", StringComparison.Ordinal) && !Regex.IsMatch(eventTime, "[+-][0-9][0-9]:[0-9][0-9]$")) { eventTime = eventTime + "Z"; }
            JToken duration = JValue.CreateNull();
            try { duration = new JValue((long)Math.Max(0.0, Math.Floor(context.Elapsed.TotalMilliseconds))); } catch { }

            var record = new JObject();
            record["schema_version"] = 1;
            record["record_id"] = context.RequestId.ToString();
            record["event_time"] = eventTime;
            record["duration_ms"] = duration;
            record["status_code"] = status;
            record["operation"] = operation;
            record["stream"] = stream;
            record["api_version"] = bounded(apiVersion);
            record["deployment"] = bounded(deployment);
            record["model"] = bounded(model);
            record["region"] = bounded(region);
            record["backend_id"] = bounded(backendId);
            string gatewayId = null, serviceName = null;
            try { if (context.Deployment != null) { gatewayId = context.Deployment.GatewayId; serviceName = context.Deployment.ServiceName; } } catch { }
            record["gateway_id"] = bounded(gatewayId);
            record["service_name"] = bounded(serviceName);
            string subscriptionId = null, subscriptionName = null, productId = null, apiId = null, operationId = null, userId = null;
            try { if (context.Subscription != null) { subscriptionId = context.Subscription.Id; subscriptionName = context.Subscription.Name; } } catch { }
            try { if (context.Product != null) { productId = context.Product.Id; } } catch { }
            try { if (context.Api != null) { apiId = context.Api.Id; } } catch { }
            try { if (context.Operation != null) { operationId = context.Operation.Id; } } catch { }
            try { if (context.User != null) { userId = context.User.Id; } } catch { }
            record["subscription_id"] = bounded(subscriptionId);
            record["subscription_name"] = bounded(subscriptionName);
            record["product_id"] = bounded(productId);
            record["api_id"] = bounded(apiId);
            record["operation_id"] = bounded(operationId);
            record["user_id"] = bounded(userId);
            record["client_ip"] = bounded(clientIp);
            record["tags"] = tags;
            record["prompt_tokens"] = prompt;
            record["completion_tokens"] = completion;
            record["total_tokens"] = total;
            record["cached_tokens"] = cached;
            record["reasoning_tokens"] = reasoning;
            record["usage_source"] = source;
            record["error_code"] = bounded(errorCode);
            return JsonConvert.SerializeObject(record);
        } catch {
            try {
                var minimal = new JObject();
                minimal["schema_version"] = 1;
                minimal["record_id"] = context.RequestId.ToString();
                minimal["event_time"] = DateTime.UtcNow.ToString("o");
                minimal["status_code"] = status;
                minimal["operation"] = "other";
                minimal["usage_source"] = status >= 400 ? "error_response" : "unreadable";
                return JsonConvert.SerializeObject(minimal);
            } catch { return ""; }
        }
    }
