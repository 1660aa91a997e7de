from opentelemetry import context as context_api


def test_attach_and_detach_switch_the_current_context(monkeypatch):
    from tokentrail.instrumentation.context import runtime

    context = context_api.set_value("k", "v")
    token = runtime.attach(context)
    try:
        assert context_api.get_current() is context
        assert runtime.current_context() is context
    finally:
        runtime.detach(token)
    assert context_api.get_value("k") is None
    monkeypatch.setattr(context_api, "_RUNTIME_CONTEXT", object())  # another runtime context: the API's functions
    assert runtime._context_switch() == (context_api.attach, context_api.detach, context_api.get_current)
