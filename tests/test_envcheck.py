import time

import vlmlab
from vlmlab import envcheck


def test_report_lists_versions_and_device():
    info = envcheck.report(check_hub=False)
    import torch

    assert info["torch"] == torch.__version__
    assert info["device"] == str(vlmlab.device())
    assert "hugging face hub" not in info


def test_hub_check_respects_offline_switch_without_network(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_network(*args, **kwargs):  # pragma: no cover - would mean the switch was ignored
        raise AssertionError("hub_status opened a connection although HF_HUB_OFFLINE=1")

    monkeypatch.setattr(envcheck.socket, "create_connection", no_network)
    assert envcheck.hub_status() == "offline (HF_HUB_OFFLINE=1)"


def test_hub_check_gives_up_quickly(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def slow_then_fail(address, timeout):
        assert timeout <= 2.0  # the caller's bound reaches the socket
        raise TimeoutError("timed out")

    monkeypatch.setattr(envcheck.socket, "create_connection", slow_then_fail)
    start = time.perf_counter()
    assert envcheck.hub_status(timeout=0.5) == "unreachable: TimeoutError"
    assert time.perf_counter() - start < 1.0


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
