"""The span contract, shared by the app side (instrumentation) and the server side (sink, reports).

`semconv` holds the provider-neutral names (GenAI semantic conventions plus tokentrail's few extensions),
`anthropic` the Anthropic names and token arithmetic, `messages` the one converter from Anthropic content blocks
to semconv message parts, `shapes` reading SDK objects and their JSON form alike, `coerce` the total value
coercions of the sink's translators. Nothing here imports anything else from tokentrail.
"""
