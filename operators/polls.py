"""When the operators can run, said once: a mesh is active, it has layers, it has a bake. Each returns the thing
it checked for (or None) and, given the operator class, tells the user why not."""


def active_plane(context, cls=None):
    obj = context.active_object
    if obj is None or obj.type != "MESH":
        if cls is not None:
            cls.poll_message_set("Select an image plane (File > Import > Images as Planes)")
        return None
    return obj


def baked_plane(context, cls=None, message="This plane has no baked motion"):
    obj = active_plane(context, cls)
    if obj is not None and not obj.image_dynamics.is_baked:
        if cls is not None:
            cls.poll_message_set(message)
        return None
    return obj


def active_layer(context, cls=None):
    obj = active_plane(context, cls)
    if obj is None:
        return None
    settings = obj.image_dynamics
    if not 0 <= settings.active_layer < len(settings.layers):
        if cls is not None:
            cls.poll_message_set("Add a motion layer first")
        return None
    return settings.layers[settings.active_layer]


class OnPlane:
    """Operator mixin: runs on the active mesh (an image plane)."""

    @classmethod
    def poll(cls, context):
        return active_plane(context, cls) is not None


class OnBakedPlane:
    """Operator mixin: runs on the active plane once it has baked motion."""
    needs_bake_message = "This plane has no baked motion"

    @classmethod
    def poll(cls, context):
        return baked_plane(context, cls, cls.needs_bake_message) is not None


class OnActiveLayer:
    """Operator mixin: runs on the active plane's active layer."""

    @classmethod
    def poll(cls, context):
        return active_layer(context, cls) is not None


class RemoveFromActiveLayer(OnActiveLayer):
    """Operator mixin: removes item `index` of one of the active layer's lists (`listed`, named `what`)."""
    listed, what = "", ""

    @classmethod
    def poll(cls, context):
        layer = active_layer(context, cls)
        return layer is not None and len(getattr(layer, cls.listed)) > 0

    def remove(self, context):
        """The removed item's object (if it has one), or None with an error report when there is no such item."""
        items = getattr(active_layer(context), self.listed)
        if not 0 <= self.index < len(items):
            self.report({"ERROR"}, f"There is no {self.what} number {self.index + 1}")
            return None
        removed = getattr(items[self.index], "object", True)
        items.remove(self.index)
        return removed
