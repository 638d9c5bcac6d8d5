"""APIM's allowlist of .NET types and members in policy expressions, and the check against it.

The list is APIM's documented one (Microsoft Learn, "API Management policy expressions", .NET Framework types
allowed; mirrored by the policy toolkit's ExpressionTypeUsed analyzer), written in reflection names. The Mono
runner lists what each compiled expression's IL references (ReferenceWalker.cs); anything not allowed here is
a violation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ALLOWED_TYPES: frozenset[str] = frozenset(
    {
        "System.Array",
        "System.BitConverter",
        "System.Boolean",
        "System.Byte",
        "System.Char",
        "System.Collections.Generic.Dictionary`2",
        "System.Collections.Generic.HashSet`1",
        "System.Collections.Generic.ICollection`1",
        "System.Collections.Generic.IDictionary`2",
        "System.Collections.Generic.IEnumerable`1",
        "System.Collections.Generic.IEnumerator`1",
        "System.Collections.Generic.IList`1",
        "System.Collections.Generic.IReadOnlyCollection`1",
        "System.Collections.Generic.IReadOnlyDictionary`2",
        "System.Collections.Generic.ISet`1",
        "System.Collections.Generic.KeyValuePair`2",
        "System.Collections.Generic.List`1",
        "System.Collections.Generic.Queue`1",
        "System.Collections.Generic.Stack`1",
        "System.Convert",
        "System.DateTime",
        "System.DateTimeKind",
        "System.DateTimeOffset",
        "System.Decimal",
        "System.Double",
        "System.Enum",
        "System.Exception",
        "System.Guid",
        "System.Int16",
        "System.Int32",
        "System.Int64",
        "System.IO.StringReader",
        "System.IO.StringWriter",
        "System.Linq.Enumerable",
        "System.Math",
        "System.MidpointRounding",
        "System.Net.IPAddress",
        "System.Net.WebUtility",
        "System.Nullable",
        "System.Nullable`1",
        "System.Object",
        "System.Random",
        "System.SByte",
        "System.Security.Cryptography.AsymmetricAlgorithm",
        "System.Security.Cryptography.CipherMode",
        "System.Security.Cryptography.HashAlgorithm",
        "System.Security.Cryptography.HashAlgorithmName",
        "System.Security.Cryptography.HMAC",
        "System.Security.Cryptography.HMACMD5",
        "System.Security.Cryptography.HMACSHA1",
        "System.Security.Cryptography.HMACSHA256",
        "System.Security.Cryptography.HMACSHA384",
        "System.Security.Cryptography.HMACSHA512",
        "System.Security.Cryptography.KeyedHashAlgorithm",
        "System.Security.Cryptography.MD5",
        "System.Security.Cryptography.Oid",
        "System.Security.Cryptography.PaddingMode",
        "System.Security.Cryptography.RNGCryptoServiceProvider",
        "System.Security.Cryptography.RSA",
        "System.Security.Cryptography.RSAEncryptionPadding",
        "System.Security.Cryptography.RSASignaturePadding",
        "System.Security.Cryptography.SHA1",
        "System.Security.Cryptography.SHA1Managed",
        "System.Security.Cryptography.SHA256",
        "System.Security.Cryptography.SHA256Managed",
        "System.Security.Cryptography.SHA384",
        "System.Security.Cryptography.SHA384Managed",
        "System.Security.Cryptography.SHA512",
        "System.Security.Cryptography.SHA512Managed",
        "System.Security.Cryptography.SymmetricAlgorithm",
        "System.Security.Cryptography.X509Certificates.PublicKey",
        "System.Security.Cryptography.X509Certificates.RSACertificateExtensions",
        "System.Security.Cryptography.X509Certificates.X500DistinguishedName",
        "System.Security.Cryptography.X509Certificates.X509Certificate",
        "System.Security.Cryptography.X509Certificates.X509Certificate2",
        "System.Security.Cryptography.X509Certificates.X509ContentType",
        "System.Security.Cryptography.X509Certificates.X509NameType",
        "System.Single",
        "System.String",
        "System.StringComparer",
        "System.StringComparison",
        "System.StringSplitOptions",
        "System.Text.Encoding",
        "System.Text.RegularExpressions.Capture",
        "System.Text.RegularExpressions.CaptureCollection",
        "System.Text.RegularExpressions.Group",
        "System.Text.RegularExpressions.GroupCollection",
        "System.Text.RegularExpressions.Match",
        "System.Text.RegularExpressions.Regex",
        "System.Text.RegularExpressions.RegexOptions",
        "System.Text.StringBuilder",
        "System.TimeSpan",
        "System.TimeZone",
        "System.TimeZoneInfo",
        "System.TimeZoneInfo+AdjustmentRule",
        "System.TimeZoneInfo+TransitionTime",
        "System.Tuple",
        "System.UInt16",
        "System.UInt32",
        "System.UInt64",
        "System.Uri",
        "System.UriPartial",
        "System.Xml.Linq.Extensions",
        "System.Xml.Linq.XAttribute",
        "System.Xml.Linq.XCData",
        "System.Xml.Linq.XComment",
        "System.Xml.Linq.XContainer",
        "System.Xml.Linq.XDeclaration",
        "System.Xml.Linq.XDocument",
        "System.Xml.Linq.XDocumentType",
        "System.Xml.Linq.XElement",
        "System.Xml.Linq.XName",
        "System.Xml.Linq.XNamespace",
        "System.Xml.Linq.XNode",
        "System.Xml.Linq.XNodeDocumentOrderComparer",
        "System.Xml.Linq.XNodeEqualityComparer",
        "System.Xml.Linq.XObject",
        "System.Xml.Linq.XProcessingInstruction",
        "System.Xml.Linq.XText",
        "System.Xml.XmlNodeType",
        "Newtonsoft.Json.Formatting",
        "Newtonsoft.Json.JsonConvert",
        "Newtonsoft.Json.Linq.Extensions",
        "Newtonsoft.Json.Linq.JArray",
        "Newtonsoft.Json.Linq.JConstructor",
        "Newtonsoft.Json.Linq.JContainer",
        "Newtonsoft.Json.Linq.JObject",
        "Newtonsoft.Json.Linq.JProperty",
        "Newtonsoft.Json.Linq.JRaw",
        "Newtonsoft.Json.Linq.JToken",
        "Newtonsoft.Json.Linq.JTokenType",
        "Newtonsoft.Json.Linq.JValue",
    }
)

ALLOWED_MEMBERS: dict[str, frozenset[str]] = {
    "Newtonsoft.Json.JsonConvert": frozenset({"SerializeObject", "DeserializeObject"}),
    "System.DateTime": frozenset(
        {
            ".ctor",
            "Add",
            "AddDays",
            "AddHours",
            "AddMilliseconds",
            "AddMinutes",
            "AddMonths",
            "AddSeconds",
            "AddTicks",
            "AddYears",
            "Date",
            "Day",
            "DayOfWeek",
            "DayOfYear",
            "DaysInMonth",
            "Hour",
            "IsDaylightSavingTime",
            "IsLeapYear",
            "MaxValue",
            "Millisecond",
            "Minute",
            "MinValue",
            "Month",
            "Now",
            "Parse",
            "Second",
            "Subtract",
            "Ticks",
            "TimeOfDay",
            "Today",
            "ToString",
            "UtcNow",
            "Year",
        }
    ),
    "System.DateTimeKind": frozenset({"Utc"}),
    "System.Enum": frozenset({"Parse", "TryParse", "ToString"}),
    "System.Net.IPAddress": frozenset(
        {"AddressFamily", "Equals", "GetAddressBytes", "IsLoopback", "Parse", "TryParse", "ToString"}
    ),
    "System.Text.RegularExpressions.Capture": frozenset({"Index", "Length", "Value"}),
    "System.Text.RegularExpressions.CaptureCollection": frozenset({"Count", "Item"}),
    "System.Text.RegularExpressions.Group": frozenset({"Captures", "Success"}),
    "System.Text.RegularExpressions.GroupCollection": frozenset({"Count", "Item"}),
    "System.Text.RegularExpressions.Match": frozenset({"Empty", "Groups", "Result"}),
    "System.Text.RegularExpressions.Regex": frozenset(
        {".ctor", "IsMatch", "Match", "Matches", "Replace", "Unescape", "Split"}
    ),
}
DISALLOWED_MEMBERS: dict[str, frozenset[str]] = {"System.Xml.Linq.XDocument": frozenset({"Load"})}

CONTEXT_NAMESPACE = "Apim.Fake."
"""The harness's stand-ins for APIM's context interfaces and its documented extension methods."""
_CONTEXT_IMPLEMENTATIONS = re.compile(r"^Apim\.Fake\.Fake")
"""Concrete fake classes are the harness's own: an expression naming one would not compile in APIM."""

COMPILER_GENERATED: dict[str, frozenset[str] | None] = {
    # A lambda becomes a delegate: its constructor and Invoke appear in the IL, not in the source.
    **{f"System.Func`{n}": frozenset({".ctor", "Invoke"}) for n in range(1, 18)},
    **{f"System.Action`{n}": frozenset({".ctor", "Invoke"}) for n in range(1, 17)},
    "System.Action": frozenset({".ctor", "Invoke"}),
    # foreach / using.
    "System.IDisposable": frozenset({"Dispose"}),
    "System.Collections.IEnumerator": frozenset({"MoveNext", "Current"}),
    # Array initialisers.
    "System.Runtime.CompilerServices.RuntimeHelpers": frozenset({"InitializeArray"}),
}


@dataclass(frozen=True, slots=True)
class Violation:
    expression: int
    reference: str
    why: str


def _member_name(member: str) -> str:
    for prefix in ("get_", "set_", "add_", "remove_"):
        if member.startswith(prefix):
            return member[len(prefix) :]
    return member


def _outer(type_name: str) -> str:
    return type_name.split("+", 1)[0]


def _type_allowed(type_name: str) -> bool:
    if type_name.startswith(CONTEXT_NAMESPACE):
        return not _CONTEXT_IMPLEMENTATIONS.match(type_name)
    if type_name in ALLOWED_TYPES or type_name in COMPILER_GENERATED:
        return True
    # Nested types of an allowed generic collection (List<T>.Enumerator in foreach) come with it.
    return "+" in type_name and _outer(type_name) in ALLOWED_TYPES and "`" in _outer(type_name)


def check_reference(reference: str) -> str | None:
    """None if the reference is allowed, else why not."""
    kind, _, rest = reference.partition(":")
    if kind == "T":
        return None if _type_allowed(rest) else f"type {rest} is not on APIM's allowlist"
    if kind == "M":
        type_name, _, member = rest.partition("::")
        if not _type_allowed(type_name):
            return f"type {type_name} is not on APIM's allowlist"
        name = _member_name(member)
        if type_name in COMPILER_GENERATED:
            allowed = COMPILER_GENERATED[type_name]
            return None if allowed is None or name in allowed else f"{type_name}::{member} is not compiler-generated"
        if type_name in ALLOWED_MEMBERS and name not in ALLOWED_MEMBERS[type_name]:
            return f"{type_name}::{member} is not an allowed member"
        if name in DISALLOWED_MEMBERS.get(type_name, frozenset()):
            return f"{type_name}::{member} is explicitly disallowed"
        return None
    return f"the IL could not be read: {rest}"


def violations(references: dict[int, list[str]]) -> list[Violation]:
    found = []
    for expression, refs in sorted(references.items()):
        for reference in sorted(refs):
            why = check_reference(reference)
            if why is not None:
                found.append(Violation(expression, reference, why))
    return found
