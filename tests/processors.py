"""transformers' own processors for every ``vlmlab.budget`` family, built offline.

Each builder sets the image processor to the released checkpoint's numbers
(``vlmlab.budget.FAMILIES[...].preset``) and pairs it with a tiny word-level
tokenizer that knows the family's special tokens, so a test can run the real
processor and count the image tokens it writes into ``input_ids``. Nothing is
downloaded. Importable as ``processors`` (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

from dataclasses import dataclass

from vlmlab.budget import FAMILIES


@dataclass(frozen=True)
class Written:
    """What a processor wrote into ``input_ids`` for one image.

    ``placeholders``: image placeholder tokens (one visual feature each; ``TokenBudget.tokens``);
    ``context``: every position the image added to the prompt, placeholders plus the marker tokens
    the processor writes around them (``TokenBudget.context_tokens`` where the processor, not a chat
    template, writes the markers); ``outputs``: the processor's whole output.
    """

    placeholders: int
    context: int
    outputs: dict


def blank_image(height, width):
    """An all-black RGB image of ``(height, width)`` pixels: the counts depend only on the size."""
    from PIL import Image

    return Image.new("RGB", (width, height))


def written(processor, size, prompt, image_token, placeholder=None, **kwargs):
    """Run ``processor`` on a blank image of ``size`` with ``prompt`` (which holds ``image_token`` once).

    Counts ``placeholder`` (default: ``image_token``) in ``input_ids``, and how many positions the image
    added: the length of ``input_ids`` minus that of the prompt tokenized without ``image_token``.
    Public behaviour only: the processor's ``__call__`` and its tokenizer.
    """
    outputs = processor(images=[blank_image(*size)], text=[prompt], **kwargs)
    ids = outputs["input_ids"][0]
    ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
    tokenizer = processor.tokenizer
    placeholder_id = tokenizer.convert_tokens_to_ids(placeholder or image_token)
    text_only = tokenizer(prompt.replace(image_token, "", 1))["input_ids"]
    return Written(placeholders=ids.count(placeholder_id), context=len(ids) - len(text_only), outputs=outputs)


def tiny_tokenizer(special_tokens, named=None):
    """A ``PreTrainedTokenizerFast`` with a few words plus ``special_tokens`` (each one token).

    ``named``: attribute name -> token (e.g. ``{"image_token": "<image>"}``), so that
    ``tokenizer.image_token`` and ``tokenizer.image_token_id`` exist, as the released
    tokenizers provide them.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "<pad>": 3, "describe": 4, "this": 5}
    words = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    words.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=words, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                        pad_token="<pad>", extra_special_tokens=named or {})
    tokenizer.add_special_tokens({"additional_special_tokens": list(dict.fromkeys(special_tokens))})
    return tokenizer


def _preset(family):
    return FAMILIES[family].preset


def qwen_processor(family="qwen2-vl"):
    """``Qwen2VLProcessor`` (or ``Qwen2_5_VLProcessor``) with the released min/max pixels."""
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLProcessor, Qwen2VLVideoProcessor

    o = _preset(family)
    image_processor = Qwen2VLImageProcessor(min_pixels=o["min_pixels"], max_pixels=o["max_pixels"],
                                            patch_size=o["patch_size"], merge_size=2)
    tokenizer = tiny_tokenizer(["<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>"])
    cls = Qwen2_5_VLProcessor if family == "qwen2.5-vl" else Qwen2VLProcessor
    return cls(image_processor=image_processor, tokenizer=tokenizer, video_processor=Qwen2VLVideoProcessor())


def onevision_processor():
    """``LlavaOnevisionProcessor``: 384-px tiles, the 6x6 pinpoint menu, anyres_max_9."""
    from transformers import LlavaOnevisionImageProcessor, LlavaOnevisionProcessor, LlavaOnevisionVideoProcessor

    from vlmlab.families import onevision_pinpoints

    o = _preset("llava-onevision")
    side = o["tile_size"] // o["patch_size"]
    image_processor = LlavaOnevisionImageProcessor(
        size={"height": o["tile_size"], "width": o["tile_size"]},
        image_grid_pinpoints=[list(p) for p in onevision_pinpoints(o["tile_size"])])
    tokenizer = tiny_tokenizer(["<image>", "<video>"])
    return LlavaOnevisionProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                   video_processor=LlavaOnevisionVideoProcessor(), num_image_tokens=side * side,
                                   vision_feature_select_strategy="full",
                                   vision_aspect_ratio=f"anyres_max_{o['max_tiles']}")


def internvl_processor():
    """``InternVLProcessor`` with ``GotOcr2ImageProcessor`` cropping to 1..12 tiles of 448 px."""
    from transformers import GotOcr2ImageProcessor, InternVLProcessor, InternVLVideoProcessor

    o = _preset("internvl3")
    image_processor = GotOcr2ImageProcessor(crop_to_patches=True, min_patches=1, max_patches=o["max_tiles"],
                                            size={"height": o["tile_size"], "width": o["tile_size"]})
    names = dict(start_image_token="<img>", end_image_token="</img>", context_image_token="<IMG_CONTEXT>",
                 video_token="<video>")
    tokenizer = tiny_tokenizer(list(names.values()), names)
    per_tile = (o["tile_size"] // o["patch_size"]) ** 2 // 4
    return InternVLProcessor(image_processor=image_processor, tokenizer=tokenizer,
                             video_processor=InternVLVideoProcessor(), image_seq_length=per_tile)


def idefics3_processor(family="idefics3"):
    """``Idefics3Processor`` with ``family``'s numbers (Idefics3 or SmolVLM): longest edge, square tiles, a global image.

    SmolVLM's own ``SmolVLMProcessor`` writes the same prompt layout but needs the optional ``num2words``
    package, so SmolVLM's numbers run through Idefics3's processor; ``tests/test_families.py`` checks
    separately that ``SmolVLMImageProcessor`` cuts the same tiles.
    """
    from transformers import Idefics3ImageProcessor, Idefics3Processor

    o = _preset(family)
    seq = (o["tile_size"] // o["patch_size"]) ** 2 // o["shuffle"] ** 2
    rows_cols = [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]
    # "\n\n" is one token, as in the released tokenizers; so is "\n"
    tokenizer = tiny_tokenizer(["<image>", "<fake_token_around_image>", "<global-img>", "<end_of_utterance>", "\n\n",
                                "\n", *rows_cols], dict(image_token="<image>"))
    image_processor = Idefics3ImageProcessor(do_image_splitting=True, size={"longest_edge": o["longest_edge"]},
                                             max_image_size={"longest_edge": o["tile_size"]})
    return Idefics3Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_len=seq)


def gemma3_processor(pan_and_scan=False):
    """``Gemma3Processor``: 896 px, 256 soft tokens per picture; pan-and-scan as in the released config."""
    from transformers import Gemma3ImageProcessor, Gemma3Processor

    image_processor = Gemma3ImageProcessor(size={"height": 896, "width": 896}, do_pan_and_scan=pan_and_scan,
                                           pan_and_scan_min_crop_size=256, pan_and_scan_max_num_crops=4,
                                           pan_and_scan_min_ratio_to_activate=1.2)
    names = dict(image_token="<image_soft_token>", boi_token="<start_of_image>", eoi_token="<end_of_image>")
    # "\n\n" is one token, as in the released tokenizer: the processor writes one before and after each picture
    tokenizer = tiny_tokenizer([*names.values(), "\n\n"], names)
    return Gemma3Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_length=256)


def pixtral_processor():
    """``PixtralProcessor``: longest edge 1024, 16-px patches, no merge."""
    from transformers import PixtralImageProcessor, PixtralProcessor

    o = _preset("pixtral")
    image_processor = PixtralImageProcessor(size={"longest_edge": o["longest_edge"]},
                                            patch_size={"height": o["patch_size"], "width": o["patch_size"]})
    tokenizer = tiny_tokenizer(["[IMG]", "[IMG_BREAK]", "[IMG_END]"])
    return PixtralProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=o["patch_size"],
                            spatial_merge_size=1)


def paligemma_processor():
    """``PaliGemmaProcessor``: one 224-px square, 256 image tokens."""
    from transformers import PaliGemmaProcessor, SiglipImageProcessor

    o = _preset("paligemma")
    image_processor = SiglipImageProcessor(size={"height": o["tile_size"], "width": o["tile_size"]})
    image_processor.image_seq_length = (o["tile_size"] // o["patch_size"]) ** 2
    names = dict(image_token="<image>")
    tokenizer = tiny_tokenizer(["<image>"], names)
    return PaliGemmaProcessor(image_processor=image_processor, tokenizer=tokenizer)


def mllama_processor():
    """``MllamaProcessor``: 560-px tiles, at most 4."""
    from transformers import MllamaImageProcessor, MllamaProcessor

    o = _preset("llama-3.2-vision")
    image_processor = MllamaImageProcessor(size={"height": o["tile_size"], "width": o["tile_size"]},
                                           max_image_tiles=o["max_tiles"])
    tokenizer = tiny_tokenizer(["<|image|>", "<|python_tag|>", "<|begin_of_text|>"])
    tokenizer.bos_token = "<|begin_of_text|>"
    return MllamaProcessor(image_processor=image_processor, tokenizer=tokenizer)


def llava_processor():
    """``LlavaProcessor`` as llava-hf/llava-1.5-7b-hf: CLIP at 336, patch 14, CLS dropped."""
    from transformers import CLIPImageProcessor, LlavaProcessor

    o = _preset("llava-1.5")
    image_processor = CLIPImageProcessor(size={"shortest_edge": o["tile_size"]},
                                         crop_size={"height": o["tile_size"], "width": o["tile_size"]})
    tokenizer = tiny_tokenizer(["<image>"])
    return LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=o["patch_size"],
                          vision_feature_select_strategy="default", num_additional_image_tokens=1)


def llava_next_processor():
    """``LlavaNextProcessor`` as llava-hf/llava-v1.6-mistral-7b-hf (``helpers.llava_next_processor``)."""
    from helpers import llava_next_processor as build

    o = _preset("llava-next")
    return build(tile_size=o["tile_size"], patch_size=o["patch_size"])
