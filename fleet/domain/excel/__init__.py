"""Excel and CSV: the return template and its upload, the printable filled return, the national
summary workbook and the flat CSV.

Plain functions that take values and return bytes (or parsed values); no request, no `g`.
The views in fleet.excel_web and fleet.api.exports call them.
"""
