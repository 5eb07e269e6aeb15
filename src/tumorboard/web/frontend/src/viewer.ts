// NiiVue three-plane viewers of the stored volumes (WebGL2; a message when the browser has none).
import { Niivue, NVImage, SHOW_RENDER, SLICE_TYPE, type ImageFromUrlOptions } from '@niivue/niivue'
import { h } from './dom'

export interface Viewer {
  nv: Niivue | null
  dispose: () => void
  ready: Promise<void>
  /** Load the top layer again from ``layer`` (e.g. the classes after a curation); one GPU upload. */
  replaceTopLayer: (layer: ImageFromUrlOptions) => Promise<void>
}

/** Class map colours: 1 red, 2 yellow, 3 green (the report's colours). */
const CLASSES_COLORMAP = { R: [0, 219, 250, 25], G: [0, 25, 204, 178], B: [0, 25, 13, 51], A: [0, 220, 220, 220], I: [0, 85, 170, 255] }

export function classesOverlay(url: string): ImageFromUrlOptions {
  return { url, colormap: 'tbclasses', cal_min: 0, cal_max: 3, opacity: 0.6, trustCalMinMax: true }
}

/**
 * Load every volume, then upload them to the GPU once. NiiVue (0.69) re-uploads
 * every layer, and recomputes the 3-D gradient texture of the first, after each
 * volume it adds; without a GPU (SwiftShader) that is most of the first view.
 */
async function oneUpload(nv: Niivue, change: () => Promise<unknown>): Promise<void> {
  const deferred: Pick<Niivue, 'updateGLVolume'> = nv
  const upload = nv.updateGLVolume
  deferred.updateGLVolume = () => { /* once, below */ }
  try {
    await change()
  } finally {
    deferred.updateGLVolume = upload
  }
  nv.updateGLVolume()
}

async function loadAllThenUpload(nv: Niivue, volumes: ImageFromUrlOptions[]): Promise<void> {
  await oneUpload(nv, () => nv.loadVolumes(volumes))
}

export function volumeViewer(
  container: HTMLElement, label: string, volumes: ImageFromUrlOptions[],
  onMeasure?: (distanceMm: number) => void,
  options: { axialOnly?: boolean } = {},
): Viewer {
  const canvas = h('canvas', { class: 'niivue', 'aria-label': label, width: 640, height: 360 })
  const status = h('p', { class: 'viewer-status', role: 'status' })
  container.append(h('figure', { class: 'viewer' }, h('div', { class: 'viewer-canvas' }, canvas), h('figcaption', {}, label), status))
  let nv: Niivue | null = null
  const ready = (async () => {
    if (!canvas.getContext('webgl2')) throw new Error('this browser has no WebGL2: the three-plane view is not available')
    nv = new Niivue({
      show3Dcrosshair: true, backColor: [0, 0, 0, 1], isResizeCanvas: true, dragAndDropEnabled: false,
      loadingText: 'loading...', isNearestInterpolation: true,
      // three planes only: the 3-D render tile is ray-cast on every draw (slow without a GPU)
      multiplanarShowRender: SHOW_RENDER.NEVER,
    })
    performance.mark(`tb:${label}:attach-start`)
    await nv.attachToCanvas(canvas)
    performance.mark(`tb:${label}:attached`)
    nv.addColormap('tbclasses', CLASSES_COLORMAP)
    nv.setSliceType(options.axialOnly ? SLICE_TYPE.AXIAL : SLICE_TYPE.MULTIPLANAR)
    if (onMeasure) {
      // the left button draws the line (NiiVue's primary drag otherwise moves the crosshair)
      nv.opts.dragMode = nv.dragModes.measurement
      nv.opts.dragModePrimary = nv.dragModes.measurement
      nv.onMeasurementCompleted = (measurement) => {
        canvas.dataset.measuredMm = String(measurement.distance)
        onMeasure(measurement.distance)
      }
    }
    await loadAllThenUpload(nv, volumes)
    performance.mark(`tb:${label}:volumes`)
    container.dataset.loaded = String(volumes.length)
    canvas.dataset.loaded = 'true'
    performance.mark(`tb:${label}:ready`)
  })().catch((error: Error) => {
    status.textContent = error.message
    canvas.dataset.loaded = 'error'
  })
  // replacements one after the other (each waits for the load and the one before)
  let queue: Promise<void> = ready
  const replaceTopLayer = (layer: ImageFromUrlOptions): Promise<void> => {
    queue = queue.then(async () => {
      const viewer = nv
      if (!viewer || viewer.volumes.length < 2) return
      const image = await NVImage.loadFromUrl({ ...layer })
      await oneUpload(viewer, async () => {
        viewer.removeVolumeByIndex(viewer.volumes.length - 1)
        viewer.addVolume(image)
      })
    }).catch((error: Error) => { status.textContent = error.message })
    return queue
  }
  return {
    get nv() { return nv },
    ready,
    replaceTopLayer,
    dispose: () => { try { nv?.cleanup() } catch { /* already gone */ } },
  }
}
