"""The course's terms in English and Korean: one list, which notebook 00 shows in each edition.

The Korean edition uses exactly these words (``tests/test_translation.py``
checks it): where an English notebook's prose uses a term, its Korean
counterpart uses the Korean term, and never one of the variants in ``avoid``.
The Korean words are the ones Korean ML writing uses, and the tutorial this
course grew from where it names the concept.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    english: str
    korean: str
    meaning_en: str
    meaning_ko: str
    # Korean variants for the same concept that the edition does not use, so that it says one thing one way.
    avoid: tuple[str, ...] = ()


TERMS = (
    Term("patch", "패치", "a small square of pixels (e.g. 14×14) cut from the image",
         "이미지에서 잘라 낸 작은 정사각형 픽셀 묶음(예: 14×14)"),
    Term("token", "토큰", "one vector in the sequence a transformer reads; here, one per patch",
         "트랜스포머가 읽는 시퀀스의 벡터 하나. 여기서는 패치마다 하나"),
    Term("patch embedding", "패치 임베딩", "the linear map from a flattened patch to a token",
         "펼친 패치를 토큰으로 바꾸는 선형 변환"),
    Term("position embedding", "위치 임베딩", "a vector added to each token that says where its patch was",
         "패치가 있던 자리를 알려 주려고 각 토큰에 더하는 벡터", avoid=("포지션 임베딩", "위치 임베드")),
    Term("vision encoder", "비전 인코더", "the ViT that turns patches into features (the VLM's eye)",
         "패치를 특징으로 바꾸는 ViT. VLM의 눈", avoid=("시각 인코더", "비전 엔코더")),
    Term("vision tower", "비전 타워", "the vision encoder as it sits inside a VLM or CLIP (transformers' `vision_tower`)",
         "VLM이나 CLIP 안에 들어 있는 비전 인코더(transformers의 `vision_tower`)", avoid=("시각 타워",)),
    Term("[CLS] token", "[CLS] 토큰", "an extra learned token whose output summarises the whole image",
         "출력이 이미지 전체를 요약하는, 학습되는 추가 토큰"),
    Term("attention", "어텐션", "each token's weighted read of every other token",
         "각 토큰이 다른 모든 토큰을 가중치를 두어 읽는 연산", avoid=("주의 메커니즘", "주의 집중", "어탠션")),
    Term("feature", "특징", "a vector the encoder computes for a patch or an image",
         "인코더가 패치나 이미지에 대해 계산한 벡터", avoid=("피처", "피쳐")),
    Term("contrastive learning", "대조 학습", "training images and their captions to land near each other (CLIP)",
         "이미지와 그 캡션이 서로 가까이 놓이도록 학습하는 방법(CLIP)"),
    Term("zero-shot", "제로샷", "classifying with no labelled training examples of the task: the image is compared with "
         "a caption written for each class (CLIP)",
         "그 작업의 레이블 달린 학습 예시 없이 분류하는 것. 이미지를 클래스마다 쓴 캡션과 비교합니다(CLIP)",
         avoid=("제로 샷",)),
    Term("preprocessing", "전처리", "resizing, cropping and normalising an image before the encoder",
         "인코더에 넣기 전에 이미지를 리사이즈·크롭·정규화하는 과정"),
    Term("normalisation", "정규화", "subtracting a mean and dividing by a standard deviation, per channel",
         "채널마다 평균을 빼고 표준편차로 나누는 것"),
    Term("aspect ratio", "종횡비", "an image's width divided by its height",
         "이미지의 가로를 세로로 나눈 값", avoid=("가로세로비", "화면비")),
    Term("resolution", "해상도", "an image's size in pixels", "픽셀 단위로 잰 이미지 크기"),
    Term("interpolation", "보간", "estimating values between known ones, e.g. when resizing position embeddings",
         "알려진 값 사이의 값을 추정하는 것. 예: 위치 임베딩의 크기를 바꿀 때"),
    Term("grid", "그리드", "the rows × columns layout of patches or tiles", "패치나 타일이 놓인 행 × 열 레이아웃",
         avoid=("격자",)),
    Term("tile", "타일", "one crop of a high-resolution image, encoded on its own",
         "고해상도 이미지를 잘라 따로 인코딩하는 조각 하나"),
    Term("tiling", "타일링", "cutting a large image into tiles the encoder can read",
         "큰 이미지를 인코더가 읽을 수 있는 타일로 자르는 것"),
    Term("thumbnail", "썸네일", "the whole image shrunk to one tile, for global context",
         "전체 맥락을 위해 이미지 전체를 타일 하나 크기로 줄인 것", avoid=("섬네일",)),
    Term("dynamic resolution", "동적 해상도", "encoding each image at (close to) its own size, so the token count varies",
         "이미지를 원래 크기에 가깝게 인코딩해서 토큰 수가 이미지마다 달라지는 방식"),
    Term("projector", "프로젝터", "the small network that maps encoder features into the language model's embedding space",
         "인코더 특징을 언어 모델의 임베딩 공간으로 옮기는 작은 네트워크", avoid=("투영기", "사영기")),
    Term("resampler", "리샘플러", "a projector whose learned queries read a fixed number of tokens out of any number of features",
         "학습된 쿼리로 특징 개수와 상관없이 정해진 수의 토큰을 뽑아내는 프로젝터"),
    Term("toy", "토이", "this course's small models, trained here on its own worlds of shapes",
         "이 코스가 도형 세계에서 직접 학습한 작은 모델", avoid=("장난감",)),
    Term("patch merger", "패치 병합기", "a projector that merges each 2×2 block of patch features into one token (Qwen2-VL)",
         "2×2 패치 특징 묶음을 토큰 하나로 합치는 프로젝터(Qwen2-VL)", avoid=("패치 머저", "패치 머지")),
    Term("fine-tuning", "미세 조정", "training a trained model further, on a new task or data",
         "학습된 모델을 새 작업이나 데이터로 더 학습하는 것", avoid=("파인튜닝", "파인 튜닝")),
    Term("language model", "언어 모델", "the network that reads tokens and predicts the next one",
         "토큰을 읽고 다음 토큰을 예측하는 네트워크"),
    Term("probe", "프로브", "a small classifier fitted on frozen features to test what they hold",
         "고정된 특징에 맞춘 작은 분류기. 특징에 어떤 정보가 들어 있는지 확인하는 데 씀"),
    Term("frozen", "고정", "not updated during training (a frozen encoder)", "학습 중에 갱신하지 않음(고정된 인코더)",
         avoid=("동결", "얼린")),
    Term("training", "학습", "fitting a model's weights to data", "데이터에 맞춰 모델의 가중치를 조정하는 것",
         avoid=("훈련",)),
)


def markdown(edition: str = "en") -> str:
    """The glossary as a markdown table, for notebook 00 of ``edition`` ("en" or "ko")."""
    if edition == "en":
        rows = ["| term | 한국어 | meaning here |", "|---|---|---|"]
        rows += [f"| {t.english} | {t.korean} | {t.meaning_en} |" for t in TERMS]
    elif edition == "ko":
        rows = ["| 한국어 | English | 뜻 |", "|---|---|---|"]
        rows += [f"| {t.korean} | {t.english} | {t.meaning_ko} |" for t in TERMS]
    else:
        raise ValueError(f"edition={edition!r}; expected 'en' or 'ko'")
    return "\n".join(rows)
