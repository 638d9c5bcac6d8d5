"""Run the policy's C# expressions locally under Mono, with a fake `context` and a small flow interpreter."""
