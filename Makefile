# Two virtual environments, as a real install has: Blender's Python (bpy) and the backend's (torch, opencv).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENVS := .venvs
BLENDER_PY := $(VENVS)/blender/bin/python
BACKEND_PY := $(abspath $(VENVS)/backend/bin/python)
# Blender's own extension tool (validate, build), as shipped inside the bpy module.
BLENDER_EXT_TOOL = $(shell $(BLENDER_PY) -c "import bpy, os; print(os.path.join(bpy.utils.system_resource('SCRIPTS'), 'addons_core', 'bl_pkg', 'cli', 'blender_ext.py'))")
export IMAGE_DYNAMICS_BACKEND_PYTHON := $(BACKEND_PY)

.PHONY: demo test test-backend test-addon bench quality dist venvs clean

# The main job on each shipped sample at 1280 px wide or more: out/demo (the waterfall), out/demo-<sample>.
demo: venvs
	$(BLENDER_PY) -m imgdyn animate samples/waterfall/waterfall.jpg --job samples/waterfall/job.json --out out/demo --name demo --formats mp4,gif --samples 2
	$(BLENDER_PY) -m imgdyn animate samples/clouds/clouds.jpg --job samples/clouds/job.json --out out/demo-clouds --formats mp4,gif --samples 2
	$(BLENDER_PY) -m imgdyn animate samples/lake/lake.jpg --job samples/lake/job.json --out out/demo-lake --formats mp4,gif --samples 2 --width 1920
	$(BLENDER_PY) -m imgdyn animate samples/river/river.png --job samples/river/job.json --out out/demo-river --formats mp4,gif --samples 2
	$(BLENDER_PY) -m imgdyn animate samples/sky/sky.png --job samples/sky/job.json --out out/demo-sky --formats mp4,gif --samples 2
	$(BLENDER_PY) -m imgdyn animate samples/tree/tree.png --job samples/tree/job.json --out out/demo-tree --formats mp4,gif --samples 2
	$(BLENDER_PY) -m imgdyn animate samples/campfire/campfire.png --job samples/campfire/job.json --out out/demo-campfire --formats mp4,gif --samples 2

test: test-backend test-addon

test-backend: venvs
	$(BACKEND_PY) -m pytest tests/backend -q

test-addon: venvs
	$(BLENDER_PY) -m pytest tests/addon -q

# Every sample's loop rendered at full size and measured as a person sees it; never part of `make test`.
quality: venvs
	$(BLENDER_PY) -m imgdyn quality --out out/quality

# Speed of each stage against its floor or its plain counterpart, in one run; never part of `make test`.
bench: venvs
	mkdir -p out/bench
	$(BACKEND_PY) bench/bench_backend.py out/bench/backend.json
	$(BLENDER_PY) bench/bench_blender.py out/bench/blender.json
	$(BLENDER_PY) bench/bench_scale.py out/bench/scale.json
	$(BACKEND_PY) bench/report.py out/bench

dist: venvs
	mkdir -p dist
	$(BLENDER_PY) $(BLENDER_EXT_TOOL) build --source-dir . --output-dir dist

venvs: $(VENVS)/blender/.installed $(VENVS)/backend/.installed

# A venv is rebuilt only when its requirements' text changed since it was made (a checkout that only touches
# the files' times, or a worktree sharing the venvs, keeps it).
$(VENVS)/blender/.installed: requirements/blender.txt
	$(call make_venv,blender,$<,$^)

$(VENVS)/backend/.installed: requirements/backend-dev.txt requirements/backend.txt
	$(call make_venv,backend,$<,$^)

define make_venv
	if [ -f $(VENVS)/$(1)/.requirements ] && cat $(3) | cmp -s - $(VENVS)/$(1)/.requirements; then \
		touch $(VENVS)/$(1)/.installed; \
	else \
		rm -rf $(VENVS)/$(1) && \
		$(PYTHON) -m venv $(VENVS)/$(1) && \
		$(VENVS)/$(1)/bin/python -m pip install --quiet -r $(2) && \
		cat $(3) > $(VENVS)/$(1)/.requirements && \
		touch $(VENVS)/$(1)/.installed; \
	fi
endef

clean:
	rm -rf out dist
