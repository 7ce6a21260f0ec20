/**
 * The wall display's horn: a two-tone beep from the Web Audio API, repeated while the annunciator
 * sounds (data/alarms.ts decides when). Browsers start audio only from a person's gesture, so
 * `unlock()` is called from the click that turns the sound on; until then (or where there is no
 * audio) the horn is silent and `available` says so, the annunciator's state stays visible.
 */
export class AlarmHorn {
  private context: AudioContext | null = null
  private timer: ReturnType<typeof setInterval> | undefined
  /** False when this browser gave no audio (no Web Audio, or it refused to start). */
  available = true

  /** From a click: creates (or resumes) the audio context. */
  unlock(): void {
    try {
      this.context ??= new AudioContext()
      void this.context.resume().catch(() => {
        this.available = false
      })
      this.available = true
    } catch {
      this.available = false
    }
  }

  get sounding(): boolean {
    return this.timer !== undefined
  }

  /** Beeps now and every `everyMs` until `stop()`. */
  start(everyMs = 1500): void {
    if (this.timer !== undefined) return
    this.beep()
    this.timer = setInterval(() => this.beep(), everyMs)
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** Releases the audio context (the element left the page). */
  close(): void {
    this.stop()
    const c = this.context
    this.context = null
    if (c) void c.close().catch(() => {})
  }

  /** Two short tones, high then low (legible to the ear at a distance, distinct from a phone). */
  private beep(): void {
    const c = this.context
    if (c?.state !== 'running') return
    try {
      const t = c.currentTime
      for (const [i, freq] of [988, 740].entries()) {
        const osc = c.createOscillator()
        const gain = c.createGain()
        osc.type = 'square'
        osc.frequency.value = freq
        const start = t + i * 0.22
        gain.gain.setValueAtTime(0.0001, start)
        gain.gain.exponentialRampToValueAtTime(0.2, start + 0.02)
        gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.2)
        osc.connect(gain).connect(c.destination)
        osc.start(start)
        osc.stop(start + 0.21)
      }
    } catch {
      this.available = false
    }
  }
}
