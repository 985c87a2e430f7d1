"""What the kubelet does for a container's image before it can create the container.

It follows pkg/kubelet/images/image_manager.go (EnsureImageExists): `imagePullPolicy` decides
whether to pull (`Always`, `IfNotPresent`, `Never`), the pod's `imagePullSecrets` go with the
pull, a failure puts the pod's image in back-off, and each step records the kubelet's Event:
`Pulling image "X"`, `Successfully pulled image "X" in 1.2s (1.2s including waiting). Image
size: N bytes.`, `Container image "X" already present on machine`, `Failed to pull image "X":
<containerd's error>`, `Back-off pulling image "X"` and `Container image "X" is not present
with pull policy of Never`. The container waits as the kubelet reports it meanwhile:
ContainerCreating while pulling, then ErrImagePull, ImagePullBackOff or ErrImageNeverPull,
with the back-off doubling from 10 s to 300 s between attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from kubesim.kubelet.events import NORMAL, WARNING, Recorder
from kubesim.kubelet.podstatus import ContainerRecord
from kubesim.kubelet.pulls import (
    Backoff,
    ImageStore,
    NodeImage,
    PullError,
    go_duration,
    pull_secrets,
    valid_reference,
)
from kubesim.store import Obj, Store

# How soon the kubelet's pod worker syncs again after a failed attempt.
SYNC_RETRY = 1.0


@dataclass
class Waiter:
    """What a container's image step needs from its pod: the stored pod, a way to publish
    status, and the event that ends every wait when the pod stops."""

    pod: Callable[[], Obj | None]
    publish: Callable[[], None]
    halted: asyncio.Event

    async def sleep(self, seconds: float) -> bool:
        """Sleep unless the pod stops first; True if it is still running."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.halted.wait(), seconds)
        return not self.halted.is_set()


class ImagePuller:
    def __init__(self, store: Store, images: ImageStore, recorder: Recorder) -> None:
        self.store = store
        self.images = images
        self.recorder = recorder
        self.backoff = Backoff(images.model)

    async def ensure(self, record: ContainerRecord, waiter: Waiter) -> NodeImage | None:
        """The container's image on this node, pulled as its policy says; None if the pod
        stopped first. Retries, with the kubelet's back-off, until the pull succeeds."""
        while not waiter.halted.is_set():
            pod = waiter.pod()
            if pod is None:
                return None
            found = await self._attempt(pod, record, waiter)
            if found is not None:
                return found
        return None

    def _event(self, pod: Obj, record: ContainerRecord, type_: str, reason: str, text: str) -> None:
        self.recorder.record(pod, record.kind, record.name, type_, reason, text)

    def _wait_as(self, pod: Obj, record: ContainerRecord, reason: str, message: str) -> None:
        record.waiting(reason, message)
        self._event(pod, record, WARNING, "Failed", f"Error: {reason}")

    async def _attempt(self, pod: Obj, record: ContainerRecord, waiter: Waiter) -> NodeImage | None:
        ref = str(record.spec.get("image", ""))
        policy = str(record.spec.get("imagePullPolicy") or "IfNotPresent")
        if not valid_reference(ref):
            text = (
                f'Failed to apply default image tag "{ref}": couldn\'t parse image reference '
                f'"{ref}": invalid reference format'
            )
            self._event(pod, record, WARNING, "InspectFailed", text)
            self._wait_as(pod, record, "InvalidImageName", text)
            waiter.publish()
            await waiter.sleep(10 * SYNC_RETRY)
            return None
        image = self.images.catalog.find(ref)
        present = image is not None and self.images.has(image)
        if policy == "Never" or (policy == "IfNotPresent" and present):
            if present:
                assert image is not None
                text = f'Container image "{ref}" already present on machine'
                self._event(pod, record, NORMAL, "Pulled", text)
                return self.images.present[image.digest]
            text = f'Container image "{ref}" is not present with pull policy of Never'
            self._event(pod, record, WARNING, "ErrImageNeverPull", text)
            self._wait_as(pod, record, "ErrImageNeverPull", text)
            waiter.publish()
            await waiter.sleep(10 * SYNC_RETRY)
            return None
        key = f"{pod['metadata'].get('uid', '')}_{ref}"
        if (left := self.backoff.remaining(key)) > 0:
            self._event(pod, record, NORMAL, "BackOff", f'Back-off pulling image "{ref}"')
            self._wait_as(pod, record, "ImagePullBackOff", f'Back-off pulling image "{ref}"')
            waiter.publish()
            await waiter.sleep(left)
            return None
        secrets, missing = pull_secrets(self.store, pod)
        if missing:
            text = (
                f"Unable to retrieve some image pull secrets ({', '.join(missing)}); "
                "attempting to pull the image may not succeed."
            )
            self.recorder.record(pod, "", "", WARNING, "FailedToRetrieveImagePullSecret", text)
        self._event(pod, record, NORMAL, "Pulling", f'Pulling image "{ref}"')
        try:
            pulled, seconds = await self.images.pull(ref, secrets)
        except PullError as exc:
            self._event(pod, record, WARNING, "Failed", f'Failed to pull image "{ref}": {exc}')
            self.backoff.failed(key)
            self._wait_as(pod, record, exc.reason, str(exc))
            waiter.publish()
            await waiter.sleep(SYNC_RETRY)
            return None
        took = go_duration(seconds)
        text = (
            f'Successfully pulled image "{ref}" in {took} ({took} including waiting). '
            f"Image size: {pulled.size} bytes."
        )
        self._event(pod, record, NORMAL, "Pulled", text)
        return pulled
