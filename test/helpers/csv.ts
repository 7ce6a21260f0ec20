/** CSV as the gateway's exports write it, read back for tests. */

/** RFC 4180: records end with CRLF; a quoted cell may hold commas, CR, LF and doubled quotes. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let cell = ''
  let i = 0
  let quoted = false
  while (i < text.length) {
    const c = text[i]!
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"'
        i += 2
      } else if (c === '"') {
        quoted = false
        i++
        if (i < text.length && text[i] !== ',' && text[i] !== '\r')
          throw new Error(`text after a quote at ${i}`)
      } else {
        cell += c
        i++
      }
    } else if (c === '"') {
      if (cell !== '') throw new Error(`a quote inside an unquoted cell at ${i}`)
      quoted = true
      i++
    } else if (c === ',') {
      row.push(cell)
      cell = ''
      i++
    } else if (c === '\r') {
      if (text[i + 1] !== '\n') throw new Error(`a bare CR at ${i}`)
      row.push(cell)
      rows.push(row)
      row = []
      cell = ''
      i += 2
    } else if (c === '\n') {
      throw new Error(`a bare LF at ${i}`)
    } else {
      cell += c
      i++
    }
  }
  if (quoted) throw new Error('an unterminated quoted cell')
  if (cell !== '' || row.length > 0) throw new Error('the last record does not end with CRLF')
  return rows
}
