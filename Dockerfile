# digitpad's container images (deploy/check_image.sh builds and runs the serving one with podman).
#
#   docker build -t digitpad .                      # serve: LiteRT on the CPU, no TensorFlow
#   docker build -t digitpad-cuda --target cuda .   # train and run large batches on an NVIDIA GPU
#
# The base is any Debian-like image with Python 3.11 as `python3` (--build-arg BASE=...; a
# machine with no registry builds one from Debian's packages: deploy/check_image.sh). Behind a
# proxy that re-signs TLS, pass its CA bundle as a secret: --secret id=pip_cert,src=CA.crt.
ARG BASE=python:3.11-slim

# --- Build: the serving dependencies in a virtual environment ---------------------------------
FROM ${BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY requirements.txt ./
# requirements.txt without TensorFlow, Keras and cleanlab: serving runs the network with LiteRT
# (model.tflite); TensorFlow only converts models, Keras only trains or runs on a GPU, and
# cleanlab only checks labels before a retrain.
RUN --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    grep -v -E '^(tensorflow-cpu|keras|cleanlab)==' requirements.txt > requirements-serving.txt \
    && python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --quiet -r requirements-serving.txt

# --- Serve: the app, the committed model, a user that owns nothing but instance/ --------------
FROM ${BASE} AS serve
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORT=8000 \
    DIGITPAD_RUNTIME=litert
RUN useradd --no-log-init --no-create-home --uid 10001 --home-dir /app --shell /usr/sbin/nologin digitpad
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY app.py gunicorn.conf.py Procfile ./
COPY model/ model/
COPY web/ web/
COPY handwriting/ handwriting/
# web/retrain.py (`models retrain`, imported by the CLI) reads training/label_quality.py (NumPy only).
COPY training/ training/
COPY migrations/ migrations/
COPY static/ static/
COPY templates/ templates/
# The SQLite database (when DATABASE_URL is unset) and each version's files, written by the
# workers, are the only things the app writes (and the metrics folder under /tmp).
RUN mkdir -p instance && chown digitpad:digitpad instance
USER digitpad
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
    CMD python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"
# The Procfile's web process; its release process is `flask --app app db upgrade` (compose's
# migrate service, Kubernetes' migration Job).
CMD ["gunicorn", "app:create_app()"]

# --- CUDA: TensorFlow with its CUDA libraries, for training and large batches on a GPU --------
# The NVIDIA driver comes from the host (NVIDIA Container Toolkit: --gpus all, or
# --device nvidia.com/gpu=all with podman); tensorflow[and-cuda] brings CUDA and cuDNN.
FROM ${BASE} AS cuda
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 PORT=8000 DIGITPAD_RUNTIME=auto
RUN useradd --no-log-init --no-create-home --uid 10001 --home-dir /app --shell /usr/sbin/nologin digitpad
WORKDIR /app
COPY requirements.txt requirements-test.txt ./
RUN --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    sed -e 's/^tensorflow-cpu==/tensorflow[and-cuda]==/' requirements.txt > requirements-cuda.txt \
    && sed -e 's/^-r requirements.txt/-r requirements-cuda.txt/' requirements-test.txt > requirements-cuda-test.txt \
    && python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --quiet -r requirements-cuda-test.txt
COPY . .
RUN mkdir -p instance && chown -R digitpad:digitpad instance model
USER digitpad
CMD ["gunicorn", "app:create_app()"]

# The default target: the serving image.
FROM serve
