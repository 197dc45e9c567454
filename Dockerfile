FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*
# The app runs as an unprivileged user; only var/ (media, celery state) is writable by it.
RUN groupadd --system --gid 10001 crm && useradd --system --uid 10001 --gid crm --home-dir /app crm
COPY pyproject.toml README.md ./
COPY crm crm
COPY customers customers
COPY projects projects
COPY aftercare aftercare
COPY referrals referrals
RUN pip install --no-cache-dir .
COPY . .
# Collected with the production settings (hashed manifest for WhiteNoise); the values below exist
# only for this build step, the real ones come from the environment at run time.
RUN DJANGO_SETTINGS_MODULE=crm.settings.production SECRET_KEY=build-only-not-used-at-runtime \
    ALLOWED_HOSTS=localhost DATABASE_URL=sqlite:////tmp/build.sqlite3 REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput -v0 \
    && rm -rf var && mkdir -p var/media && chown -R crm:crm var
USER crm
EXPOSE 8000
CMD ["gunicorn", "crm.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
