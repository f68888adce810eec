# One image for the three processes of 掌厅助手 (Rasa server, action server, back-office); the command picks
# one (deploy/entrypoint.sh). Built from the lock file, with the Rasa model trained at build time so every
# replica serves the same model. Build: `docker build -t zhangting .` (README, "Scaling").
FROM python:3.10-slim

ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app PATH=/app/.venv/bin:$PATH \
    ORT_DISABLE_TELEMETRY=1 TF_CPP_MIN_LOG_LEVEL=2 RASA_TELEMETRY_ENABLED=false SQLALCHEMY_SILENCE_UBER_WARNING=1 \
    HALL_ENV=production HALL_VAR_DIR=/app/var MEDIA_DIR=/data/media

# OCR fallback, CJK fonts for agreement PDFs, OpenCV's runtime libraries.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-eng tesseract-ocr-osd fonts-noto-cjk fonts-dejavu-core \
      libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 hall

WORKDIR /app
# The venv lives at /app/.venv as in development, so scripts/train.py, the Makefile and Procfile work unchanged.
COPY requirements.txt requirements.lock requirements-nodeps.txt ./
RUN python -m venv .venv \
 && .venv/bin/pip install "pip<25" wheel "setuptools<81" \
 && .venv/bin/pip install -r requirements.txt -c requirements.lock \
 && .venv/bin/pip install --no-deps -r requirements-nodeps.txt

# Train first from the bot's sources only: code changes elsewhere do not retrain.
COPY config.yml ./
COPY bot/domain bot/domain
COPY bot/data bot/data
COPY bot/jieba bot/jieba
COPY scripts/train.py scripts/train.py
RUN python scripts/train.py && rm -rf .rasa

COPY . .
RUN mkdir -p var /data/media && chown -R hall:hall var /data /app/models
USER hall
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["rasa"]
