FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN SECRET_KEY=build-only MODERATO_DATA_DIR=/tmp/build python manage.py collectstatic --noinput \
    && useradd --system --home /app moderato && mkdir -p /app/var /app/metrics && chown moderato /app/var /app/metrics
USER moderato
EXPOSE 8000
