// Object models the console names things with: the models the package ships (objects.json, served
// beside the pages), and what ?model=true reads tell of any other (uploaded) object.

let shipped = null;
const learned = new Map(); // objectId -> Map(resourceId -> resource model from a ?model=true read)

export async function loadCatalogue() {
  if (!shipped) {
    const response = await fetch("objects.json", { cache: "no-store" });
    const models = response.ok ? await response.json() : [];
    shipped = new Map(models.map((m) => [m.objectId, {
      ...m, resources: new Map(m.resources.map((r) => [r.id, r])),
    }]));
  }
  return shipped;
}

/** Remember the model fields of resources a ?model=true read answered (name, operations, type...). */
export function learn(objectId, resources) {
  for (const [id, resource] of Object.entries(resources || {})) {
    if (!resource.name) continue;
    if (!learned.has(objectId)) learned.set(objectId, new Map());
    learned.get(objectId).set(Number(id), {
      id: Number(id), name: resource.name, operations: resource.operations, type: resource.type,
      units: resource.units || "", multiple: Boolean(resource.multiple), description: resource.description || "",
      rangeEnumeration: resource.rangeEnumeration || "",
    });
  }
}

export function objectName(objectId) {
  const model = shipped && shipped.get(objectId);
  return model ? model.name : `Object ${objectId}`;
}

/** Resource models of an object by id: what the emulator's reads said (it knows uploaded models),
 * completed by the shipped model (which also has the resources a read never shows: executables). */
export function resourceModels(objectId) {
  const merged = new Map();
  const model = shipped && shipped.get(objectId);
  if (model) for (const [id, resource] of model.resources) merged.set(id, resource);
  for (const [id, resource] of learned.get(objectId) || []) merged.set(id, { ...merged.get(id), ...resource });
  return new Map([...merged].sort((a, b) => a[0] - b[0]));
}

export function resourceModel(objectId, resourceId) {
  return resourceModels(objectId).get(resourceId) || null;
}
