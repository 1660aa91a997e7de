"""The provider-neutral recorder: call records, the call lifecycle, content policy and the metric pump."""
