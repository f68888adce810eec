#!/bin/sh
# Start one process of 掌厅助手 in a container: rasa | actions | backoffice | migrate | seed | <any command>.
# Everything is configured by environment variables (README, "Configuration" and "Scaling").
set -e
cd /app
case "${1:-rasa}" in
  rasa)
    # Redis tracker and lock stores when REDIS_URL is set (required for SANIC_WORKERS > 1 and for replicas).
    python scripts/rasa_endpoints.py var/endpoints.runtime.yml >/dev/null
    exec python scripts/rasa_run.py run --enable-api -i 0.0.0.0 --port "${RASA_PORT:-5005}" \
      --model "$(python scripts/train.py --path)" --endpoints var/endpoints.runtime.yml \
      --credentials credentials.yml ${RASA_TOKEN:+--auth-token "$RASA_TOKEN"} ;;
  actions)
    # ACTION_SERVER_SANIC_WORKERS sets the number of worker processes.
    export SANIC_HOST=0.0.0.0
    exec python -m bot.action_server --actions bot.actions --port "${ACTION_PORT:-5055}" ;;
  backoffice)
    export BACKOFFICE_HOST=0.0.0.0
    exec python -m backoffice serve ;;
  migrate)
    exec python -m backoffice migrate ;;
  seed)
    exec python -m backoffice seed ;;
  *)
    exec "$@" ;;
esac
