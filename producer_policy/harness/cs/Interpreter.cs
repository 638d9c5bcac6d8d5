// Interprets the policy flow (a JSON tree made by producer_policy/harness/flow.py) against a fake context.
// Only the policies the chargeback policy uses are executed; any other element is listed as skipped.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using Newtonsoft.Json.Linq;

namespace Apim.Harness
{
    using Apim.Fake;

    public sealed class ExpressionFailure : Exception
    {
        public readonly int ExpressionId;
        public ExpressionFailure(int id, string message, Exception inner) : base(message, inner) { ExpressionId = id; }
    }

    public sealed class GatewayFailure : Exception
    {
        public GatewayFailure(string message) : base(message) { }
    }

    public sealed class RunState
    {
        public readonly JArray Messages = new JArray();
        public readonly JArray Errors = new JArray();
        public readonly JArray Skipped = new JArray();
        public long ExpressionTicks;
        public int ExpressionCalls;
        public string Section = "";
    }

    public sealed class Interpreter
    {
        private static readonly HashSet<Type> VariableTypes = new HashSet<Type>
        {
            typeof(bool), typeof(sbyte), typeof(byte), typeof(ushort), typeof(uint), typeof(ulong), typeof(short),
            typeof(int), typeof(long), typeof(decimal), typeof(float), typeof(double), typeof(Guid), typeof(string),
            typeof(char), typeof(DateTime), typeof(TimeSpan),
        };

        private readonly Func<IExpressionContext, object>[] expressions;

        public Interpreter(Func<IExpressionContext, object>[] expressions) { this.expressions = expressions; }

        public object Evaluate(JToken value, FakeContext context, RunState state)
        {
            if (value == null || value.Type == JTokenType.Null) { return null; }
            var obj = (JObject)value;
            if (obj["text"] != null) { return (string)obj["text"]; }
            int id = (int)obj["expr"];
            var watch = Stopwatch.StartNew();
            try
            {
                return expressions[id](context);
            }
            catch (Exception ex)
            {
                throw new ExpressionFailure(id, ex.GetType().FullName + ": " + ex.Message, ex);
            }
            finally
            {
                watch.Stop();
                state.ExpressionTicks += watch.ElapsedTicks;
                state.ExpressionCalls++;
            }
        }

        public void RunNodes(JArray nodes, FakeContext context, RunState state)
        {
            if (nodes == null) { return; }
            foreach (var token in nodes) { RunNode((JObject)token, context, state); }
        }

        private void RunNode(JObject node, FakeContext context, RunState state)
        {
            string type = (string)node["type"];
            switch (type)
            {
                case "base":
                    return;
                case "set-variable":
                {
                    object value = Evaluate(node["value"], context, state);
                    if (value != null && !VariableTypes.Contains(value.GetType()) && !(value is JToken)
                        && !(Nullable.GetUnderlyingType(value.GetType()) != null))
                    {
                        throw new GatewayFailure("set-variable '" + (string)node["name"] + "': type " + value.GetType().FullName + " is not allowed");
                    }
                    context.VariableStore[(string)node["name"]] = value;
                    return;
                }
                case "choose":
                {
                    foreach (JObject when in (JArray)node["whens"])
                    {
                        object cond = Evaluate(when["condition"], context, state);
                        if (!(cond is bool)) { throw new GatewayFailure("when condition did not return a bool"); }
                        if ((bool)cond) { RunNodes((JArray)when["body"], context, state); return; }
                    }
                    RunNodes(node["otherwise"] as JArray, context, state);
                    return;
                }
                case "log-to-eventhub":
                {
                    object key = Evaluate(node["partition_key"], context, state);
                    object body = Evaluate(node["body"], context, state);
                    var message = new JObject();
                    message["logger_id"] = (string)node["logger_id"];
                    message["partition_key"] = key == null ? null : Convert.ToString(key, System.Globalization.CultureInfo.InvariantCulture);
                    message["body"] = body == null ? "" : Convert.ToString(body, System.Globalization.CultureInfo.InvariantCulture);
                    state.Messages.Add(message);
                    return;
                }
                case "set-body":
                {
                    object value = Evaluate(node["value"], context, state);
                    byte[] bytes = System.Text.Encoding.UTF8.GetBytes(value == null ? "" : value.ToString());
                    if (state.Section == "inbound" || state.Section == "backend") { context.FakeRequest.FakeBody = new FakeBody(bytes); }
                    else if (context.FakeResponse != null) { context.FakeResponse.FakeBody = new FakeBody(bytes); }
                    return;
                }
                default:
                    state.Skipped.Add(type);
                    return;
            }
        }
    }
}
