"""Bundled resources are found from the checkout (and, by the same code path, from an installed wheel)."""

from diffusion_studio.paths import resources_dir, sample_images


def test_sample_images_are_found() -> None:
    names = {p.name for p in sample_images()}
    assert {"chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg"} <= names
    assert (resources_dir() / "samples" / "NOTICE.md").is_file()
