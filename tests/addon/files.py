"""What a folder holds, to compare before and after a run: `python files.py FOLDER` prints it as JSON (for
folders only another mount namespace can see). No bpy here."""

import hashlib
import json
import os
import sys


def snapshot(root, skip=()):
    """{relative path: ["dir"] | ["file", size, sha256] | ["link", target]} of everything under `root`, links
    not followed; top-level names in `skip` left out."""
    tree = {}
    for folder, dirs, files in os.walk(root):
        relative = os.path.relpath(folder, root)
        if relative == ".":
            dirs[:] = [name for name in dirs if name not in skip]
            files = [name for name in files if name not in skip]
        for name in dirs + files:
            path = os.path.join(folder, name)
            key = os.path.normpath(os.path.join(relative, name))
            if os.path.islink(path):
                tree[key] = ["link", os.readlink(path)]
            elif os.path.isdir(path):
                tree[key] = ["dir"]
            else:
                with open(path, "rb") as handle:
                    data = handle.read()
                tree[key] = ["file", len(data), hashlib.sha256(data).hexdigest()]
    return tree


if __name__ == "__main__":
    print(json.dumps(snapshot(sys.argv[1])))
