// A stand-in for API Management's expression `context`, shaped after the documented interfaces
// (learn.microsoft.com "API Management policy expressions", context variable). Used only by the
// local harness: policy expressions compile against these types and run under Mono.
using System;
using System.Collections.Generic;
using System.Text;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Apim.Fake
{
    public interface IUrl
    {
        string Host { get; }
        string Path { get; }
        int Port { get; }
        IReadOnlyDictionary<string, string[]> Query { get; }
        string QueryString { get; }
        string Scheme { get; }
    }

    public interface IMessageBody
    {
        T As<T>(bool preserveContent = false);
    }

    public interface IRequest
    {
        IMessageBody Body { get; }
        IReadOnlyDictionary<string, string[]> Headers { get; }
        string IpAddress { get; }
        IReadOnlyDictionary<string, string> MatchedParameters { get; }
        string Method { get; }
        IUrl OriginalUrl { get; }
        IUrl Url { get; }
    }

    public interface IResponse
    {
        IMessageBody Body { get; }
        IReadOnlyDictionary<string, string[]> Headers { get; }
        int StatusCode { get; }
        string StatusReason { get; }
    }

    public interface IContextApi { string Id { get; } string Name { get; } string Path { get; } }
    public interface IOperation { string Id { get; } string Method { get; } string Name { get; } string UrlTemplate { get; } }
    public interface IProduct { string Id { get; } string Name { get; } }
    public interface ISubscription
    {
        string Id { get; }
        string Name { get; }
        string Key { get; }
        string PrimaryKey { get; }
        string SecondaryKey { get; }
    }
    public interface IUser { string Id { get; } string Email { get; } string FirstName { get; } string LastName { get; } }
    public interface IGateway { string Id { get; } string InstanceId { get; } bool IsManaged { get; } }
    public interface IDeployment
    {
        IGateway Gateway { get; }
        string GatewayId { get; }
        string Region { get; }
        string ServiceId { get; }
        string ServiceName { get; }
    }
    public interface ILastError
    {
        string Source { get; }
        string Reason { get; }
        string Message { get; }
        string Scope { get; }
        string Section { get; }
        string Path { get; }
        string PolicyId { get; }
    }

    public interface IExpressionContext
    {
        IContextApi Api { get; }
        IDeployment Deployment { get; }
        TimeSpan Elapsed { get; }
        ILastError LastError { get; }
        IOperation Operation { get; }
        IProduct Product { get; }
        IRequest Request { get; }
        Guid RequestId { get; }
        IResponse Response { get; }
        ISubscription Subscription { get; }
        DateTime Timestamp { get; }
        bool Tracing { get; }
        IUser User { get; }
        IReadOnlyDictionary<string, object> Variables { get; }
        void Trace(string message);
    }

    /// <summary>The documented extension methods expressions may call on the context's dictionaries.</summary>
    public static class ContextExtensions
    {
        public static string GetValueOrDefault(this IReadOnlyDictionary<string, string[]> values, string name, string defaultValue = null)
        {
            string[] found;
            if (values != null && values.TryGetValue(name, out found) && found != null) { return string.Join(",", found); }
            return defaultValue;
        }

        public static string GetValueOrDefault(this IReadOnlyDictionary<string, string> values, string name, string defaultValue = null)
        {
            string found;
            if (values != null && values.TryGetValue(name, out found)) { return found; }
            return defaultValue;
        }

        public static T GetValueOrDefault<T>(this IReadOnlyDictionary<string, object> values, string name, T defaultValue = default(T))
        {
            object found;
            if (values == null || !values.TryGetValue(name, out found)) { return defaultValue; }
            // APIM throws on a type mismatch rather than returning the default.
            return (T)found;
        }
    }

    // ---- implementations ----

    public sealed class FakeBody : IMessageBody
    {
        public byte[] Content;
        public bool Consumed;
        public int Reads;

        public FakeBody(byte[] content) { Content = content ?? new byte[0]; }

        public T As<T>(bool preserveContent = false)
        {
            Reads++;
            if (Consumed) { throw new InvalidOperationException("body already consumed by a non-preserving read"); }
            if (!preserveContent) { Consumed = true; }
            string text = new UTF8Encoding(false, false).GetString(Content);
            object result;
            if (typeof(T) == typeof(string)) { result = text; }
            else if (typeof(T) == typeof(byte[])) { result = (byte[])Content.Clone(); }
            else if (typeof(T) == typeof(JObject)) { result = JObject.Parse(text); }
            else if (typeof(T) == typeof(JToken)) { result = JToken.Parse(text); }
            else if (typeof(T) == typeof(JArray)) { result = JArray.Parse(text); }
            else { throw new NotSupportedException("As<" + typeof(T).Name + "> is not supported by the harness"); }
            return (T)result;
        }
    }

    public sealed class FakeUrl : IUrl
    {
        public string Host { get; set; }
        public string Path { get; set; }
        public int Port { get; set; }
        public IReadOnlyDictionary<string, string[]> Query { get; set; }
        public string QueryString { get; set; }
        public string Scheme { get; set; }

        public static FakeUrl Parse(string url)
        {
            var uri = new Uri(url);
            var query = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
            string raw = uri.Query.TrimStart('?');
            foreach (var pair in raw.Split(new[] { '&' }, StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = pair.IndexOf('=');
                string k = Uri.UnescapeDataString((eq < 0 ? pair : pair.Substring(0, eq)).Replace('+', ' '));
                string v = eq < 0 ? "" : Uri.UnescapeDataString(pair.Substring(eq + 1).Replace('+', ' '));
                List<string> list;
                if (!query.TryGetValue(k, out list)) { list = new List<string>(); query[k] = list; }
                list.Add(v);
            }
            var frozen = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase);
            foreach (var kv in query) { frozen[kv.Key] = kv.Value.ToArray(); }
            return new FakeUrl
            {
                Host = uri.Host, Path = uri.AbsolutePath, Port = uri.Port, Query = frozen,
                QueryString = uri.Query, Scheme = uri.Scheme,
            };
        }
    }

    public sealed class FakeRequest : IRequest
    {
        public FakeBody FakeBody;
        public IMessageBody Body { get { return FakeBody; } }
        public IReadOnlyDictionary<string, string[]> Headers { get; set; }
        public string IpAddress { get; set; }
        public IReadOnlyDictionary<string, string> MatchedParameters { get; set; }
        public string Method { get; set; }
        public IUrl OriginalUrl { get; set; }
        public IUrl Url { get; set; }
    }

    public sealed class FakeResponse : IResponse
    {
        public FakeBody FakeBody;
        public IMessageBody Body { get { return FakeBody; } }
        public IReadOnlyDictionary<string, string[]> Headers { get; set; }
        public int StatusCode { get; set; }
        public string StatusReason { get; set; }
    }

    public sealed class FakeApi : IContextApi { public string Id { get; set; } public string Name { get; set; } public string Path { get; set; } }
    public sealed class FakeOperation : IOperation { public string Id { get; set; } public string Method { get; set; } public string Name { get; set; } public string UrlTemplate { get; set; } }
    public sealed class FakeProduct : IProduct { public string Id { get; set; } public string Name { get; set; } }
    public sealed class FakeSubscription : ISubscription
    {
        public string Id { get; set; }
        public string Name { get; set; }
        public string Key { get; set; }
        public string PrimaryKey { get; set; }
        public string SecondaryKey { get; set; }
    }
    public sealed class FakeUser : IUser { public string Id { get; set; } public string Email { get; set; } public string FirstName { get; set; } public string LastName { get; set; } }
    public sealed class FakeGateway : IGateway { public string Id { get; set; } public string InstanceId { get; set; } public bool IsManaged { get; set; } }
    public sealed class FakeDeployment : IDeployment
    {
        public IGateway Gateway { get; set; }
        public string GatewayId { get; set; }
        public string Region { get; set; }
        public string ServiceId { get; set; }
        public string ServiceName { get; set; }
    }
    public sealed class FakeLastError : ILastError
    {
        public string Source { get; set; }
        public string Reason { get; set; }
        public string Message { get; set; }
        public string Scope { get; set; }
        public string Section { get; set; }
        public string Path { get; set; }
        public string PolicyId { get; set; }
    }

    public sealed class FakeContext : IExpressionContext
    {
        public readonly Dictionary<string, object> VariableStore = new Dictionary<string, object>();
        public IContextApi Api { get; set; }
        public IDeployment Deployment { get; set; }
        public TimeSpan Elapsed { get; set; }
        public ILastError LastError { get; set; }
        public IOperation Operation { get; set; }
        public IProduct Product { get; set; }
        public FakeRequest FakeRequest;
        public IRequest Request { get { return FakeRequest; } }
        public Guid RequestId { get; set; }
        public FakeResponse FakeResponse;
        public IResponse Response { get { return FakeResponse; } }
        public ISubscription Subscription { get; set; }
        public DateTime Timestamp { get; set; }
        public bool Tracing { get; set; }
        public IUser User { get; set; }
        public IReadOnlyDictionary<string, object> Variables { get { return VariableStore; } }
        public readonly List<string> TraceLog = new List<string>();
        public void Trace(string message) { TraceLog.Add(message); }
    }
}
