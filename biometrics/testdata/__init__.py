"""Synthetic test data for the biometrics package (see generator.py and faces.py)."""
from .faces import DEFAULT_DIR, ensure_faces, fetch_faces, list_faces  # noqa: F401
from .generator import (  # noqa: F401
    ETHNICITIES, RARE_NAME_CHARS, SELFIE_VARIANTS, SIGNATURE_KINDS, TIERS, available_fonts, make_bank_card,
    make_blank, make_group_photo, make_id_back, make_id_front, make_liveness_video, make_screenshot, make_selfie,
    make_signature, photograph, random_back_fields, random_front_fields, render_back, render_front,
)
