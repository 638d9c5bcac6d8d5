@{
        // Chunk envelopes of one record (schemas/README.md sections 2-3): base64 computed once, sliced by the slots.
        try {
            string payload = %%PAYLOAD%%;
            if (payload == null) { return new JObject(); }
            byte[] all = Encoding.UTF8.GetBytes(payload);
            int total = Math.Min(all.Length, %%MAX_BYTES%%);
            int count = total == 0 ? 1 : (total + %%CHUNK_BYTES%% - 1) / %%CHUNK_BYTES%%;
            byte[] digest = SHA256.Create().ComputeHash(all, 0, total);
            var hex = new StringBuilder(64);
            for (int i = 0; i < digest.Length; i++) { hex.Append(digest[i].ToString("x2")); }
            string rawType = %%CONTENT_TYPE%%;
            var type = new StringBuilder();
            for (int i = 0; rawType != null && i < rawType.Length && type.Length < 128; i++) {
                char c = rawType[i];
                if (c >= ' ' && c <= '~' && c != '"' && c != '\\') { type.Append(c); }
            }
            var envelope = new JObject();
            envelope["n"] = count;
            envelope["pre"] = "{\"v\":1,\"record_id\":\"" + context.RequestId.ToString() + "\",\"kind\":\"%%KIND%%\",\"chunk_index\":";
            envelope["mid"] = ",\"chunk_count\":" + count.ToString() + ",\"total_bytes\":" + total.ToString()
                + ",\"original_bytes\":" + all.Length.ToString() + ",\"sha256\":\"" + hex.ToString()
                + "\",\"encoding\":\"base64\",\"content_type\":\"" + type.ToString()
                + "\",\"emitted_at\":\"" + DateTime.UtcNow.ToString("o") + "\",\"data\":\"";
            envelope["b64"] = Convert.ToBase64String(all, 0, total);
            return envelope;
        } catch { return new JObject(); }
    }
