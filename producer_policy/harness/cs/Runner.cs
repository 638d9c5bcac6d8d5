// The harness process: reads one JSON command per line on stdin, answers one JSON line on stdout.
//   {"op":"load","key":K,"assembly":PATH,"flow":{...}}   load a compiled policy
//   {"op":"run","key":K,"scenario":{...}}                run one exchange through the policy
//   {"op":"references","key":K}                          every type/member each expression's IL references
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Reflection;
using System.Text;
using System.Threading;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Apim.Harness
{
    using Apim.Fake;

    public sealed class LoadedPolicy
    {
        public Assembly Assembly;
        public Func<IExpressionContext, object>[] Expressions;
        public JObject Flow;
    }

    public static class Runner
    {
        private static readonly Dictionary<string, LoadedPolicy> Policies = new Dictionary<string, LoadedPolicy>();

        public static int Main(string[] args)
        {
            Thread.CurrentThread.CurrentCulture = CultureInfo.InvariantCulture;
            Thread.CurrentThread.CurrentUICulture = CultureInfo.InvariantCulture;
            var stdin = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false));
            var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false));
            stdout.AutoFlush = false;
            string line;
            while ((line = stdin.ReadLine()) != null)
            {
                if (line.Length == 0) { continue; }
                JObject answer;
                try
                {
                    var settings = new JsonSerializerSettings { DateParseHandling = DateParseHandling.None };
                    answer = Handle(JsonConvert.DeserializeObject<JObject>(line, settings));
                }
                catch (Exception ex)
                {
                    answer = new JObject();
                    answer["ok"] = false;
                    answer["error"] = ex.ToString();
                }
                stdout.Write(answer.ToString(Formatting.None));
                stdout.Write('\n');
                stdout.Flush();
            }
            return 0;
        }

        private static JObject Handle(JObject command)
        {
            string op = (string)command["op"];
            if (op == "load") { return Load(command); }
            if (op == "run") { return Run(Policies[(string)command["key"]], (JObject)command["scenario"]); }
            if (op == "references") { return References(Policies[(string)command["key"]]); }
            throw new ArgumentException("unknown op " + op);
        }

        private static JObject Load(JObject command)
        {
            string key = (string)command["key"];
            if (!Policies.ContainsKey(key))
            {
                var assembly = Assembly.LoadFrom((string)command["assembly"]);
                var type = assembly.GetType("Apim.Compiled.CompiledPolicy", true);
                var field = type.GetField("Expressions", BindingFlags.Public | BindingFlags.Static);
                Policies[key] = new LoadedPolicy
                {
                    Assembly = assembly,
                    Expressions = (Func<IExpressionContext, object>[])field.GetValue(null),
                    Flow = (JObject)command["flow"],
                };
            }
            var answer = new JObject();
            answer["ok"] = true;
            answer["expressions"] = Policies[key].Expressions.Length;
            return answer;
        }

        // ---- running one exchange ----

        private static Dictionary<string, string[]> Headers(JToken token)
        {
            var headers = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase);
            if (token is JObject)
            {
                foreach (var property in ((JObject)token).Properties())
                {
                    var values = new List<string>();
                    if (property.Value is JArray) { foreach (var v in (JArray)property.Value) { values.Add((string)v); } }
                    else { values.Add((string)property.Value); }
                    headers[property.Name] = values.ToArray();
                }
            }
            return headers;
        }

        private static byte[] Bytes(JToken token)
        {
            if (token == null || token.Type == JTokenType.Null) { return null; }
            return Convert.FromBase64String((string)token);
        }

        private static string Str(JToken parent, string name)
        {
            if (parent == null || parent.Type != JTokenType.Object) { return null; }
            var value = parent[name];
            return value == null || value.Type == JTokenType.Null ? null : (string)value;
        }

        private static FakeContext BuildContext(JObject s)
        {
            var context = new FakeContext();
            context.RequestId = Guid.Parse((string)s["request_id"]);
            var stamp = DateTime.Parse((string)s["timestamp"], CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
            context.Timestamp = (string)s["timestamp_kind"] == "unspecified" ? DateTime.SpecifyKind(stamp, DateTimeKind.Unspecified) : DateTime.SpecifyKind(stamp, DateTimeKind.Utc);
            context.Elapsed = TimeSpan.FromMilliseconds((double)s["elapsed_ms"]);
            var api = s["api"] as JObject;
            context.Api = api == null ? null : new FakeApi { Id = Str(api, "id"), Name = Str(api, "name"), Path = Str(api, "path") };
            var operation = s["operation"] as JObject;
            context.Operation = operation == null ? null : new FakeOperation { Id = Str(operation, "id"), Name = Str(operation, "name"), Method = Str(operation, "method"), UrlTemplate = Str(operation, "url_template") };
            var product = s["product"] as JObject;
            context.Product = product == null ? null : new FakeProduct { Id = Str(product, "id"), Name = Str(product, "name") };
            var subscription = s["subscription"] as JObject;
            context.Subscription = subscription == null ? null : new FakeSubscription
            {
                Id = Str(subscription, "id"), Name = Str(subscription, "name"), Key = Str(subscription, "key"),
                PrimaryKey = Str(subscription, "key"), SecondaryKey = Str(subscription, "secondary_key"),
            };
            var user = s["user"] as JObject;
            context.User = user == null ? null : new FakeUser { Id = Str(user, "id"), Email = Str(user, "email") };
            var deployment = s["deployment"] as JObject;
            if (deployment != null)
            {
                string gateway = Str(deployment, "gateway_id");
                context.Deployment = new FakeDeployment
                {
                    GatewayId = gateway, Region = Str(deployment, "region"), ServiceName = Str(deployment, "service_name"),
                    ServiceId = Str(deployment, "service_id"),
                    Gateway = new FakeGateway { Id = gateway, InstanceId = "harness", IsManaged = gateway == "managed" },
                };
            }
            var request = (JObject)s["request"];
            var matched = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (request["matched"] is JObject) { foreach (var p in ((JObject)request["matched"]).Properties()) { matched[p.Name] = (string)p.Value; } }
            var url = FakeUrl.Parse((string)request["url"]);
            byte[] body = Bytes(request["body_b64"]);
            context.FakeRequest = new FakeRequest
            {
                Method = Str(request, "method"), Headers = Headers(request["headers"]), IpAddress = Str(request, "ip"),
                MatchedParameters = matched, OriginalUrl = url, Url = url,
                FakeBody = body == null ? null : new FakeBody(body),
            };
            return context;
        }

        private static void Fail(FakeContext context, RunState state, string source, string reason, string message)
        {
            context.LastError = new FakeLastError { Source = source, Reason = reason, Message = message, Section = state.Section, Scope = "api", Path = "", PolicyId = "" };
        }

        private static bool RunSection(Interpreter interpreter, JObject flow, string section, FakeContext context, RunState state)
        {
            state.Section = section;
            try
            {
                interpreter.RunNodes(flow["sections"][section] as JArray, context, state);
                return true;
            }
            catch (ExpressionFailure ex)
            {
                var error = new JObject();
                error["section"] = section; error["expr"] = ex.ExpressionId; error["error"] = ex.Message;
                state.Errors.Add(error);
                Fail(context, state, "expression", "ExpressionValueEvaluationFailure", ex.Message);
            }
            catch (GatewayFailure ex)
            {
                var error = new JObject();
                error["section"] = section; error["expr"] = null; error["error"] = ex.Message;
                state.Errors.Add(error);
                Fail(context, state, "policy", "PolicyFailure", ex.Message);
            }
            return false;
        }

        private static JObject Run(LoadedPolicy policy, JObject s)
        {
            var context = BuildContext(s);
            var state = new RunState();
            var interpreter = new Interpreter(policy.Expressions);
            var injected = s["gateway_error"] as JObject;
            string injectedSection = Str(injected, "section");
            var sections = new JArray();
            bool ok = true;
            foreach (var section in new[] { "inbound", "backend", "outbound" })
            {
                if (injectedSection == section)
                {
                    // A policy placed before ours (or the gateway itself) failed in this section.
                    state.Section = section;
                    Fail(context, state, Str(injected, "source"), Str(injected, "reason"), Str(injected, "message"));
                    var status = injected["status"];
                    context.FakeResponse = status == null || status.Type == JTokenType.Null ? null : new FakeResponse
                    {
                        StatusCode = (int)status, StatusReason = "", Headers = Headers(null), FakeBody = new FakeBody(new byte[0]),
                    };
                    ok = false;
                    break;
                }
                sections.Add(section);
                if (!RunSection(interpreter, policy.Flow, section, context, state)) { ok = false; break; }
                if (section == "backend")
                {
                    var response = (JObject)s["response"];
                    byte[] body = Bytes(response["body_b64"]);
                    context.FakeResponse = new FakeResponse
                    {
                        StatusCode = (int)response["status"], StatusReason = Str(response, "reason") ?? "",
                        Headers = Headers(response["headers"]), FakeBody = new FakeBody(body ?? new byte[0]),
                    };
                    if (s["backend_url"] != null && s["backend_url"].Type == JTokenType.String)
                    {
                        context.FakeRequest.Url = FakeUrl.Parse((string)s["backend_url"]);
                    }
                }
            }
            if (!ok)
            {
                sections.Add("on-error");
                RunSection(interpreter, policy.Flow, "on-error", context, state);
            }
            var answer = new JObject();
            answer["ok"] = true;
            answer["sections"] = sections;
            answer["messages"] = state.Messages;
            answer["errors"] = state.Errors;
            answer["skipped"] = state.Skipped;
            var req = context.FakeRequest.FakeBody;
            answer["request_consumed"] = req != null && req.Consumed;
            answer["request_reads"] = req == null ? 0 : req.Reads;
            answer["forwarded_request_b64"] = req == null ? null : Convert.ToBase64String(req.Content);
            var resp = context.FakeResponse == null ? null : context.FakeResponse.FakeBody;
            answer["response_consumed"] = resp != null && resp.Consumed;
            answer["response_reads"] = resp == null ? 0 : resp.Reads;
            answer["expression_calls"] = state.ExpressionCalls;
            answer["expression_us"] = state.ExpressionTicks * 1000000.0 / System.Diagnostics.Stopwatch.Frequency;
            var names = new JArray();
            foreach (var key in context.VariableStore.Keys) { names.Add(key); }
            answer["variables"] = names;
            return answer;
        }

        private static JObject References(LoadedPolicy policy)
        {
            var answer = new JObject();
            answer["ok"] = true;
            answer["references"] = ReferenceWalker.Walk(policy.Assembly);
            return answer;
        }
    }
}
