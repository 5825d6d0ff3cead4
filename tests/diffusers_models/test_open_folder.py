"""Opening diffusers folders in both layouts: the output equals UNet2DModel's; the facts come from the config."""

from __future__ import annotations

import diffusers
import pytest
import torch
from diffusers_helpers import make_unet, save_flat, save_pipeline

from diffusion_studio.core.schedules import make_schedule
from diffusion_studio.models.diffusers_folder import DiffusersModel
from diffusion_studio.models.registry import load_model


@pytest.mark.parametrize("save", [save_flat, save_pipeline], ids=["flat", "pipeline"])
def test_both_layouts_give_the_unet_output(tmp_path, save) -> None:
    unet = make_unet(seed=1)
    folder = save(tmp_path / "model", unet, diffusers.DDPMScheduler(num_train_timesteps=1000))
    model = load_model(str(folder))
    assert isinstance(model, DiffusersModel)
    sched = make_schedule("linear", 1000)
    g = torch.Generator().manual_seed(0)
    x_t = torch.randn(2, 3, 8, 8, generator=g)
    for t in (999, 500, 3, 0):
        tt = torch.full((2,), t, dtype=torch.long)
        with torch.no_grad():
            expected = unet(x_t, tt).sample
        got = model.predict_eps(x_t, tt, sched)
        assert expected.abs().mean() > 1e-3  # a real output, not zeros
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("save", [save_flat, save_pipeline], ids=["flat", "pipeline"])
def test_model_info_comes_from_the_config(tmp_path, save) -> None:
    unet = make_unet(seed=2, in_channels=1, out_channels=1, num_class_embeds=4)
    folder = save(
        tmp_path / "cond", unet, diffusers.DDPMScheduler(num_train_timesteps=200, variance_type="fixed_large")
    )
    info = load_model(folder).info
    assert info.image_size == 8 and info.channels == 1
    assert info.class_names == ("0", "1", "2", "3")
    assert info.parameters == sum(p.numel() for p in unet.parameters())
    assert info.training_schedule().T == 200
    assert info.extra["sampler_defaults"]["variance"] == "beta"
    assert str(folder) in info.origin and info.extra["layout"] in info.origin


def test_class_conditional_model_uses_the_label(tmp_path) -> None:
    unet = make_unet(seed=3, num_class_embeds=3)
    folder = save_flat(tmp_path / "cond", unet, diffusers.DDPMScheduler())
    model = load_model(folder)
    sched = make_schedule("linear", 1000)
    x_t = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([400])
    for label in range(3):
        with torch.no_grad():
            expected = unet(x_t, t, class_labels=torch.tensor([label])).sample
        torch.testing.assert_close(model.predict_eps(x_t, t, sched, torch.tensor([label])), expected)
    from diffusion_studio.errors import OptionError

    with pytest.raises(OptionError, match="class-conditional"):
        model.predict_eps(x_t, t, sched)
    with pytest.raises(OptionError, match="no 'no class' label"):
        model.predict_eps(x_t, t, sched, torch.tensor([3]))  # the null class of classifier-free guidance


def test_2022_attention_names_and_the_fp16_variant(tmp_path) -> None:
    """Weights saved with the old attention names (query/key/value/proj_attn), and only a .fp16 variant file."""
    from safetensors.torch import load_file, save_file

    unet = make_unet(seed=12)
    folder = save_flat(tmp_path / "old", unet, diffusers.DDPMScheduler())
    weights = folder / "diffusion_pytorch_model.safetensors"
    state = load_file(weights)
    renames = {".to_q.": ".query.", ".to_k.": ".key.", ".to_v.": ".value.", ".to_out.0.": ".proj_attn."}
    old = {}
    for key, value in state.items():
        for new_name, old_name in renames.items():
            key = key.replace(new_name, old_name)
        old[key] = value
    assert any(".query." in k for k in old)
    save_file(old, weights)
    sched = make_schedule("linear", 1000)
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    t = torch.tensor([77])
    with torch.no_grad():
        expected = unet(x, t).sample
    torch.testing.assert_close(load_model(folder).predict_eps(x, t, sched), expected)
    save_file({k: v.half() for k, v in state.items()}, folder / "diffusion_pytorch_model.fp16.safetensors")
    weights.unlink()
    got = load_model(folder).predict_eps(x, t, sched)
    torch.testing.assert_close(got, expected, rtol=2e-2, atol=2e-2)  # fp16 weights, float32 arithmetic
