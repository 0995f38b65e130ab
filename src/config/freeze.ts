// Deep freezing of loaded config, policy and users so nothing downstream can change what was validated.

function refuse(): never {
  throw new TypeError('frozen: loaded configuration cannot be modified');
}

/** Freezes objects, arrays and Maps recursively (Maps get throwing mutators); returns its argument. */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  if (value instanceof Map) {
    for (const [k, v] of value) {
      deepFreeze(k);
      deepFreeze(v);
    }
    Object.defineProperties(value, {
      set: { value: refuse },
      delete: { value: refuse },
      clear: { value: refuse },
    });
  } else if (!(value instanceof RegExp)) {
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return Object.freeze(value);
}
