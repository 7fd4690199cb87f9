import pytest

import vlmlab
from vlmlab import envcheck


def test_report_lists_versions_and_device():
    info = envcheck.report(check_hub=False)
    import torch

    assert info["torch"] == torch.__version__
    assert info["device"] == str(vlmlab.device())
    assert "hugging face hub" not in info


def _no_network(*args, **kwargs):  # pragma: no cover - would mean an offline switch was ignored
    raise AssertionError("the Hub check opened a connection although an offline switch is set")


@pytest.mark.parametrize("var, value", [("HF_HUB_OFFLINE", "1"), ("HF_HUB_OFFLINE", "true"),
                                        ("TRANSFORMERS_OFFLINE", "ON"), ("TRANSFORMERS_OFFLINE", "yes")])
def test_hub_check_respects_offline_switches_without_network(monkeypatch, var, value):
    for name in envcheck.OFFLINE_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(var, value)
    monkeypatch.setattr(envcheck.socket, "create_connection", _no_network)
    assert envcheck.hub_offline_reason() == f"{var}={value} is set (offline mode)"
    assert envcheck.hub_status() == f"not usable: {var}={value} is set (offline mode)"


def _recording(calls, error=None):
    class _Connection:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def connect(address, timeout):
        calls.append((address, timeout))
        if error is not None:
            raise error
        return _Connection()

    return connect


@pytest.mark.parametrize("endpoint, address", [(None, ("huggingface.co", 443)),
                                               ("https://hub.example.org", ("hub.example.org", 443)),
                                               ("http://127.0.0.1:8080", ("127.0.0.1", 8080))])
def test_hub_check_connects_to_the_endpoint_with_the_callers_timeout(monkeypatch, endpoint, address):
    for name in envcheck.OFFLINE_VARS:
        monkeypatch.setenv(name, "0")  # set, but not to a true value
    if endpoint is None:
        monkeypatch.delenv("HF_ENDPOINT", raising=False)
    else:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
    calls = []
    monkeypatch.setattr(envcheck.socket, "create_connection", _recording(calls))
    assert envcheck.hub_status(timeout=0.5) == "reachable"
    assert calls == [(address, 0.5)]


def test_hub_check_gives_up_with_the_reason(monkeypatch):
    for name in envcheck.OFFLINE_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    calls = []
    monkeypatch.setattr(envcheck.socket, "create_connection", _recording(calls, TimeoutError("timed out")))
    reason = envcheck.hub_offline_reason(timeout=0.5)
    assert calls == [(("huggingface.co", 443), 0.5)]  # the caller's bound reaches the socket
    assert reason.startswith("no network: connecting to huggingface.co:443 failed after")
    assert reason.endswith("(TimeoutError: timed out)")
    assert envcheck.hub_status(timeout=0.5).startswith("not usable: no network: connecting to huggingface.co:443")


def test_load_clip_uses_the_same_hub_rule():
    from vlmlab import clip

    assert clip.hub_offline_reason is envcheck.hub_offline_reason


def test_set_seed_makes_torch_repeatable():
    import torch

    vlmlab.set_seed(123)
    a = torch.rand(3)
    vlmlab.set_seed(123)
    assert torch.equal(a, torch.rand(3))


def test_set_seed_rejects_non_int():
    import pytest

    with pytest.raises(TypeError, match="seed must be an int"):
        vlmlab.set_seed("0")


def test_unknown_attribute_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        vlmlab.nope  # noqa: B018


def test_import_vlmlab_loads_neither_torch_nor_transformers():
    # `import vlmlab` must stay cheap: submodules load on first use (PEP 562).
    import subprocess
    import sys

    code = "import sys, vlmlab; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_every_module_imports_without_transformers():
    # Each module defers transformers to the functions that need it.
    import subprocess
    import sys

    code = ("import sys, vlmlab\n"
            "for name in vlmlab._SUBMODULES: getattr(vlmlab, name)\n"
            "import vlmlab.widgets.patches, vlmlab.widgets.vit, vlmlab.widgets.posembed, vlmlab.widgets.clip, "
            "vlmlab.widgets.tiling, vlmlab.widgets.budget, vlmlab.widgets.projectors\n"
            "print(sorted(m for m in ('transformers', 'ipywidgets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
