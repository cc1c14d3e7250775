# Container image of Docker Registry Manager: gunicorn serving the app, data in /data.
# Build: docker build -t docker-registry-manager .   (see README.md, "Deployment").
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    REGISTRY_DATA_DIR=/data \
    REGISTRY_BIND=0.0.0.0:5000

RUN useradd --system --home-dir /app --shell /usr/sbin/nologin registry
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN mkdir -p /data && chown registry:registry /data

USER registry
VOLUME ["/data"]
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/healthz')"
CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn -c deploy/gunicorn.conf.py registry_project.wsgi:application"]
