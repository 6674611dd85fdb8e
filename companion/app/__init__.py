"""The desktop app (PySide6): the only package that imports Qt.

MainWindow renders; CompanionWorker (in its own QThread) owns the Companion. Start it with
`companion gui` or companion.app.main.run().
"""
