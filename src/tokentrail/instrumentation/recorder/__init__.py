"""The provider-neutral recorder: `records` (what an adapter reports), `call` (one call's lifecycle), `recorder`
(the factory of calls), `streams` (the stream proxy base), `metrics` and `metricpump`, and the content policy."""
