FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY crm crm
COPY customers customers
COPY projects projects
COPY aftercare aftercare
COPY referrals referrals
RUN pip install --no-cache-dir .
COPY . .
RUN DJANGO_SETTINGS_MODULE=crm.settings.local python manage.py collectstatic --noinput -v0
EXPOSE 8000
CMD ["gunicorn", "crm.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
