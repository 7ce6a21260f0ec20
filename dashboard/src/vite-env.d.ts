/** CSS imported as text (`?inline`), for `unsafeCSS` in a shadow root. */
declare module '*.css?inline' {
  const css: string
  export default css
}
