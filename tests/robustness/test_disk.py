"""A disk that fills under the embedded Redis (issue 11): writes that cannot be stored are
answered 503 (never a 200 for what was not stored), the canaries and reads answer meanwhile,
and once space is back writes succeed again. The data folder is a small tmpfs (root only:
skipped, saying so, where mount is not permitted)."""

import os
import shutil
import subprocess
import tempfile
import unittest

from battery import Battery, main, unique, wait_until, http_request

FILL_LEFT = 64 * 1024


def can_mount():
    if os.geteuid() != 0:
        return False
    probe = tempfile.mkdtemp(prefix="roomd-mount-")
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe],
                        capture_output=True).returncode == 0
    if ok:
        subprocess.run(["umount", probe], check=False)
    os.rmdir(probe)
    return ok


def fill_and_write(ctx):
    mnt = ctx.test.mnt
    st = os.statvfs(mnt)
    with open(os.path.join(mnt, "filler"), "wb") as f:
        f.write(b"\0" * max(st.f_bavail * st.f_frsize - FILL_LEFT, 0))
    statuses, room = [], unique("battery-full-")
    for i in range(3000):
        res = http_request(ctx.port, "POST", "/counter/%s-%d" % (room, i % 20), timeout=10)
        statuses.append(res.status)
        if statuses[-30:] == [503] * 30:
            break
        if i % 100 == 0:
            ctx.check(during=True)
    ctx.test.assertTrue(set(statuses) <= {200, 503}, set(statuses))
    ctx.test.assertIn(503, statuses, "the disk never filled")


def freed(ctx):
    os.remove(os.path.join(ctx.test.mnt, "filler"))
    room = "/counter/" + unique("battery-freed-")
    ok = wait_until(lambda: http_request(ctx.port, "POST", room, timeout=5).status == 200, 15)
    ctx.test.assertTrue(ok, "writes still fail 15 s after the disk was freed")


@unittest.skipUnless(can_mount(), "needs root and mount -t tmpfs to make a small disk")
class Disk(Battery):
    klass = "disk"
    cases = [("fill_and_write", fill_and_write), ("freed", freed)]

    @classmethod
    def setUpClass(cls):
        cls.mnt = tempfile.mkdtemp(prefix="roomd-disk-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", cls.mnt], check=True)
        cls.server_kwargs = {"data": os.path.join(cls.mnt, "data")}
        try:
            super().setUpClass()
        except BaseException:
            cls.unmount()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.unmount()

    @classmethod
    def unmount(cls):
        subprocess.run(["umount", "-l", cls.mnt], check=False)
        shutil.rmtree(cls.mnt, ignore_errors=True)


if __name__ == "__main__":
    main()
