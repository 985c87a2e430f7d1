# jdebug's JDK debug image, for what needs jcmd itself: a current JDK plus jattach, /bin/sh,
# setpriv and timeout. The default debug image is the minimal one in ./Dockerfile (busybox and
# jdebug-attach, a few hundred KB); see README.md here. Build and push this one with:
#   docker buildx build --platform linux/amd64,linux/arm64 -f deploy/debug-image/jdk.Dockerfile \
#     -t registry.example.com/jdebug-debug:25-jdk --push deploy/debug-image
# To use it, set JDEBUG_DEBUG_IMAGE in the jdebug-settings ConfigMap, ideally by digest.
# No USER: the bot chooses the uid of every debug container (the target JVM's own uid).

FROM eclipse-temurin:25-jdk
LABEL org.opencontainers.image.title="jdebug-debug" \
      org.opencontainers.image.description="JDK 25 with jattach, sh, setpriv and timeout for jdebug's debug containers" \
      org.opencontainers.image.base.name="eclipse-temurin:25-jdk"
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Versions follow the base image's Ubuntu release; pin the base image by digest for a
# reproducible build rather than pinning these.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends jattach util-linux coreutils \
    && rm -rf /var/lib/apt/lists/* \
    && for tool in jattach jcmd sh setpriv timeout; do command -v "$tool" || exit 1; done
