// Lists every type and member each compiled expression references, by decoding its IL (and the IL of the
// lambdas and closures the compiler generated for it). producer_policy/harness/allowlist.py judges the list.
using System;
using System.Collections.Generic;
using System.Reflection;
using System.Reflection.Emit;
using Newtonsoft.Json.Linq;

namespace Apim.Harness
{
    public static class ReferenceWalker
    {
        private static readonly Dictionary<short, OpCode> OpCodesByValue = BuildOpCodes();

        private static Dictionary<short, OpCode> BuildOpCodes()
        {
            var table = new Dictionary<short, OpCode>();
            foreach (var field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
            {
                var code = (OpCode)field.GetValue(null);
                table[code.Value] = code;
            }
            return table;
        }

        public static JArray Walk(Assembly assembly)
        {
            var result = new JArray();
            var type = assembly.GetType("Apim.Compiled.CompiledPolicy", true);
            foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            {
                if (!method.Name.StartsWith("E", StringComparison.Ordinal)) { continue; }
                int id;
                if (!int.TryParse(method.Name.Substring(1), out id)) { continue; }
                var seen = new HashSet<string>();
                var visited = new HashSet<MethodBase>();
                Visit(method, assembly, seen, visited);
                var entry = new JObject();
                entry["expr"] = id;
                var refs = new JArray();
                foreach (var s in seen) { refs.Add(s); }
                entry["references"] = refs;
                result.Add(entry);
            }
            return result;
        }

        private static string TypeName(Type t)
        {
            if (t.IsArray || t.IsByRef || t.IsPointer) { return TypeName(t.GetElementType()); }
            if (t.IsGenericType && !t.IsGenericTypeDefinition) { t = t.GetGenericTypeDefinition(); }
            return t.FullName ?? t.Name;
        }

        private static void AddType(Type t, Assembly own, HashSet<string> seen)
        {
            if (t == null || t.IsGenericParameter) { return; }
            if (t.IsArray || t.IsByRef || t.IsPointer) { AddType(t.GetElementType(), own, seen); return; }
            if (t.IsGenericType && !t.IsGenericTypeDefinition)
            {
                foreach (var arg in t.GetGenericArguments()) { AddType(arg, own, seen); }
            }
            if (t.Assembly == own) { return; }
            seen.Add("T:" + TypeName(t));
        }

        private static void Visit(MethodBase method, Assembly own, HashSet<string> seen, HashSet<MethodBase> visited)
        {
            if (!visited.Add(method)) { return; }
            var body = method.GetMethodBody();
            if (body == null) { return; }
            foreach (var local in body.LocalVariables) { AddType(local.LocalType, own, seen); }
            byte[] il = body.GetILAsByteArray();
            var module = method.Module;
            Type[] typeArgs = method.DeclaringType != null && method.DeclaringType.IsGenericType ? method.DeclaringType.GetGenericArguments() : null;
            Type[] methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
            int pos = 0;
            while (pos < il.Length)
            {
                short value = il[pos++];
                if (value == 0xFE) { value = (short)(0xFE00 | il[pos++]); }
                OpCode code;
                if (!OpCodesByValue.TryGetValue(value, out code)) { seen.Add("?:bad opcode " + value); return; }
                switch (code.OperandType)
                {
                    case OperandType.InlineNone: break;
                    case OperandType.ShortInlineBrTarget: case OperandType.ShortInlineI: case OperandType.ShortInlineVar: pos += 1; break;
                    case OperandType.InlineVar: pos += 2; break;
                    case OperandType.InlineI: case OperandType.InlineBrTarget: case OperandType.ShortInlineR: case OperandType.InlineString: case OperandType.InlineSig: pos += 4; break;
                    case OperandType.InlineI8: case OperandType.InlineR: pos += 8; break;
                    case OperandType.InlineSwitch:
                    {
                        int n = BitConverter.ToInt32(il, pos);
                        pos += 4 + 4 * n;
                        break;
                    }
                    case OperandType.InlineField: case OperandType.InlineMethod: case OperandType.InlineTok: case OperandType.InlineType:
                    {
                        int token = BitConverter.ToInt32(il, pos);
                        pos += 4;
                        MemberInfo member;
                        try { member = module.ResolveMember(token, typeArgs, methodArgs); }
                        catch (Exception ex) { seen.Add("?:unresolved token " + token.ToString("x8") + " " + ex.GetType().Name); break; }
                        Record(member, own, seen, visited);
                        break;
                    }
                    default:
                        seen.Add("?:operand " + code.OperandType);
                        break;
                }
            }
        }

        private static void Record(MemberInfo member, Assembly own, HashSet<string> seen, HashSet<MethodBase> visited)
        {
            var asType = member as Type;
            if (asType != null) { AddType(asType, own, seen); return; }
            var declaring = member.DeclaringType;
            if (declaring != null && declaring.Assembly == own)
            {
                var asMethod = member as MethodBase;
                if (asMethod != null) { Visit(asMethod, own, seen, visited); }
                var asField = member as FieldInfo;
                if (asField != null) { AddType(asField.FieldType, own, seen); }
                return;
            }
            var method = member as MethodInfo;
            if (method != null && method.IsGenericMethod)
            {
                foreach (var arg in method.GetGenericArguments()) { AddType(arg, own, seen); }
            }
            if (declaring != null)
            {
                AddType(declaring, own, seen);
                seen.Add("M:" + TypeName(declaring) + "::" + member.Name);
            }
        }
    }
}
