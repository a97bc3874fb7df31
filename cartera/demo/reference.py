"""Reference data of the demo portfolio: Spanish provinces, names, surnames, products, channels and
the texts of interactions and tasks, each with the weight it is drawn with."""

from __future__ import annotations

from typing import NamedTuple

from cartera.activity.models import Direction, InteractionKind, Outcome
from cartera.customers.models import (
    Channel,
    CompanySize,
    IncomeRange,
    Source,
    Stage,
)
from cartera.sales.models import SalesChannel

# --- reference data -------------------------------------------------------------------------------


class Province(NamedTuple):
    code: str  # INE code = first two digits of the postal code
    name: str
    community: str
    population: int  # tens of thousands, as sampling weight
    towns: tuple[str, ...]  # capital first


PROVINCES: tuple[Province, ...] = (
    Province("01", "Álava", "País Vasco", 33, ("Vitoria-Gasteiz", "Llodio", "Amurrio")),
    Province("02", "Albacete", "Castilla-La Mancha", 39, ("Albacete", "Hellín", "Villarrobledo")),
    Province("03", "Alicante", "Comunitat Valenciana", 190, ("Alicante", "Elche", "Torrevieja", "Benidorm", "Orihuela")),
    Province("04", "Almería", "Andalucía", 74, ("Almería", "Roquetas de Mar", "El Ejido")),
    Province("05", "Ávila", "Castilla y León", 16, ("Ávila", "Arévalo")),
    Province("06", "Badajoz", "Extremadura", 67, ("Badajoz", "Mérida", "Don Benito")),
    Province("07", "Illes Balears", "Illes Balears", 118, ("Palma", "Calvià", "Manacor", "Eivissa", "Maó")),
    Province("08", "Barcelona", "Cataluña", 577, (
        "Barcelona", "L'Hospitalet de Llobregat", "Badalona", "Terrassa", "Sabadell", "Mataró",
    )),
    Province("09", "Burgos", "Castilla y León", 36, ("Burgos", "Miranda de Ebro", "Aranda de Duero")),
    Province("10", "Cáceres", "Extremadura", 39, ("Cáceres", "Plasencia", "Navalmoral de la Mata")),
    Province("11", "Cádiz", "Andalucía", 125, ("Cádiz", "Jerez de la Frontera", "Algeciras", "San Fernando")),
    Province("12", "Castellón", "Comunitat Valenciana", 59, ("Castellón de la Plana", "Vila-real", "Burriana")),
    Province("13", "Ciudad Real", "Castilla-La Mancha", 49, ("Ciudad Real", "Puertollano", "Tomelloso")),
    Province("14", "Córdoba", "Andalucía", 78, ("Córdoba", "Lucena", "Puente Genil")),
    Province("15", "A Coruña", "Galicia", 112, ("A Coruña", "Santiago de Compostela", "Ferrol")),
    Province("16", "Cuenca", "Castilla-La Mancha", 20, ("Cuenca", "Tarancón")),
    Province("17", "Girona", "Cataluña", 79, ("Girona", "Figueres", "Blanes")),
    Province("18", "Granada", "Andalucía", 92, ("Granada", "Motril", "Almuñécar")),
    Province("19", "Guadalajara", "Castilla-La Mancha", 27, ("Guadalajara", "Azuqueca de Henares")),
    Province("20", "Gipuzkoa", "País Vasco", 72, ("Donostia-San Sebastián", "Irun", "Errenteria")),
    Province("21", "Huelva", "Andalucía", 52, ("Huelva", "Lepe", "Almonte")),
    Province("22", "Huesca", "Aragón", 22, ("Huesca", "Monzón", "Barbastro")),
    Province("23", "Jaén", "Andalucía", 63, ("Jaén", "Linares", "Úbeda")),
    Province("24", "León", "Castilla y León", 45, ("León", "Ponferrada", "San Andrés del Rabanedo")),
    Province("25", "Lleida", "Cataluña", 44, ("Lleida", "Balaguer", "Tàrrega")),
    Province("26", "La Rioja", "La Rioja", 32, ("Logroño", "Calahorra", "Arnedo")),
    Province("27", "Lugo", "Galicia", 33, ("Lugo", "Monforte de Lemos", "Viveiro")),
    Province("28", "Madrid", "Comunidad de Madrid", 690, (
        "Madrid", "Móstoles", "Alcalá de Henares", "Fuenlabrada", "Leganés", "Getafe", "Alcorcón",
    )),
    Province("29", "Málaga", "Andalucía", 170, ("Málaga", "Marbella", "Mijas", "Fuengirola", "Vélez-Málaga")),
    Province("30", "Murcia", "Región de Murcia", 153, ("Murcia", "Cartagena", "Lorca", "Molina de Segura")),
    Province("31", "Navarra", "Comunidad Foral de Navarra", 66, ("Pamplona", "Tudela", "Barañáin")),
    Province("32", "Ourense", "Galicia", 31, ("Ourense", "Verín", "O Barco de Valdeorras")),
    Province("33", "Asturias", "Principado de Asturias", 101, ("Oviedo", "Gijón", "Avilés")),
    Province("34", "Palencia", "Castilla y León", 16, ("Palencia", "Aguilar de Campoo")),
    Province("35", "Las Palmas", "Canarias", 113, (
        "Las Palmas de Gran Canaria", "Telde", "Arrecife", "Santa Lucía de Tirajana",
    )),
    Province("36", "Pontevedra", "Galicia", 94, ("Pontevedra", "Vigo", "Vilagarcía de Arousa")),
    Province("37", "Salamanca", "Castilla y León", 33, ("Salamanca", "Béjar", "Ciudad Rodrigo")),
    Province("38", "Santa Cruz de Tenerife", "Canarias", 104, (
        "Santa Cruz de Tenerife", "San Cristóbal de La Laguna", "Arona", "Los Llanos de Aridane",
    )),
    Province("39", "Cantabria", "Cantabria", 58, ("Santander", "Torrelavega", "Castro-Urdiales")),
    Province("40", "Segovia", "Castilla y León", 15, ("Segovia", "Cuéllar")),
    Province("41", "Sevilla", "Andalucía", 195, ("Sevilla", "Dos Hermanas", "Alcalá de Guadaíra", "Utrera")),
    Province("42", "Soria", "Castilla y León", 9, ("Soria", "Almazán")),
    Province("43", "Tarragona", "Cataluña", 82, ("Tarragona", "Reus", "Tortosa", "Cambrils")),
    Province("44", "Teruel", "Aragón", 13, ("Teruel", "Alcañiz")),
    Province("45", "Toledo", "Castilla-La Mancha", 71, ("Toledo", "Talavera de la Reina", "Illescas")),
    Province("46", "Valencia", "Comunitat Valenciana", 262, ("Valencia", "Torrent", "Gandia", "Paterna", "Sagunto")),
    Province("47", "Valladolid", "Castilla y León", 52, ("Valladolid", "Medina del Campo", "Laguna de Duero")),
    Province("48", "Bizkaia", "País Vasco", 115, ("Bilbao", "Barakaldo", "Getxo", "Portugalete")),
    Province("49", "Zamora", "Castilla y León", 17, ("Zamora", "Benavente", "Toro")),
    Province("50", "Zaragoza", "Aragón", 97, ("Zaragoza", "Calatayud", "Utebo")),
    Province("51", "Ceuta", "Ceuta", 8, ("Ceuta",)),
    Province("52", "Melilla", "Melilla", 9, ("Melilla",)),
)  # fmt: skip

# Most frequent Spanish names and surnames (thousands of people, INE); the rest of Faker's es_ES
# lists come in with a small weight, so "García" is common and "Abellán" rare, as in real files.
TOP_FEMALE = {
    "María Carmen": 650, "María": 600, "Carmen": 380, "Ana María": 300, "Laura": 260, "María Pilar": 250,
    "María Dolores": 250, "Isabel": 230, "Josefa": 220, "María Teresa": 210, "Ana": 210, "Marta": 200,
    "Cristina": 190, "Lucía": 180, "María Ángeles": 175, "Francisca": 170, "Antonia": 170, "Sara": 150,
    "Paula": 150, "Elena": 150, "Dolores": 145, "Raquel": 130, "Rosa María": 130, "Pilar": 130,
    "Manuela": 125, "Mercedes": 120, "Beatriz": 115, "Julia": 110, "Sofía": 100, "Silvia": 100,
    "Alba": 100, "Patricia": 100, "Andrea": 100, "Irene": 95, "Rocío": 95, "Rosario": 90, "Nuria": 90,
    "Teresa": 90, "Montserrat": 85, "Mónica": 80, "María José": 160, "Ana Isabel": 90,
}  # fmt: skip
TOP_MALE = {
    "Antonio": 660, "Manuel": 600, "José": 590, "Francisco": 520, "David": 370, "Juan": 370,
    "José Antonio": 360, "Javier": 330, "Daniel": 320, "José Luis": 310, "Francisco Javier": 300,
    "Carlos": 290, "Jesús": 280, "Alejandro": 270, "Miguel": 250, "José Manuel": 245, "Rafael": 240,
    "Pablo": 210, "Miguel Ángel": 205, "Pedro": 200, "Ángel": 200, "Sergio": 190, "Fernando": 190,
    "José María": 180, "Jorge": 180, "Luis": 175, "Alberto": 160, "Álvaro": 150, "Juan Carlos": 150,
    "Adrián": 140, "Diego": 130, "Juan José": 130, "Raúl": 125, "Iván": 120, "Rubén": 120,
    "Enrique": 120, "Óscar": 110, "Ramón": 105, "Andrés": 100, "Hugo": 95, "Mario": 95,
}  # fmt: skip
OTHER_NAME_WEIGHT = 8
TOP_SURNAMES = {
    "García": 1450, "Rodríguez": 925, "González": 920, "Fernández": 900, "López": 870, "Martínez": 835,
    "Sánchez": 815, "Pérez": 770, "Gómez": 490, "Martín": 485, "Jiménez": 395, "Ruiz": 355,
    "Hernández": 350, "Díaz": 340, "Moreno": 320, "Muñoz": 290, "Álvarez": 285, "Romero": 230,
    "Alonso": 210, "Gutiérrez": 200, "Navarro": 180, "Torres": 180, "Domínguez": 165, "Vázquez": 160,
    "Ramos": 160, "Gil": 150, "Ramírez": 150, "Serrano": 145, "Blanco": 140, "Molina": 135,
    "Morales": 130, "Suárez": 130, "Ortega": 130, "Delgado": 125, "Castro": 125, "Ortiz": 120,
    "Rubio": 118, "Marín": 115, "Sanz": 112, "Núñez": 110, "Iglesias": 108, "Medina": 106,
    "Garrido": 104, "Cortés": 100, "Castillo": 100, "Santos": 99, "Lozano": 98, "Guerrero": 97,
    "Cano": 96, "Prieto": 95,
}  # fmt: skip
OTHER_SURNAME_WEIGHT = 25

# (name, weight among individuals, weight among companies)
SECTORS: tuple[tuple[str, float, float], ...] = (
    ("Comercio", 14, 20), ("Hostelería y restauración", 9, 12), ("Construcción", 7, 11),
    ("Industria", 8, 10), ("Tecnología", 7, 9), ("Sanidad", 9, 5), ("Educación", 8, 4),
    ("Transporte y logística", 6, 7), ("Servicios profesionales", 10, 12),
    ("Agricultura y alimentación", 4, 5), ("Inmobiliario", 3, 3), ("Turismo", 4, 2),
    ("Administración pública", 8, 0), ("Energía", 2, 2),
)  # fmt: skip
COMPANY_STEMS: dict[str, tuple[str, ...]] = {
    "Comercio": ("Comercial", "Distribuciones", "Suministros", "Almacenes"),
    "Hostelería y restauración": ("Restaurante", "Hostal", "Cafetería", "Catering"),
    "Construcción": ("Construcciones", "Reformas", "Obras y Proyectos", "Promociones"),
    "Industria": ("Talleres", "Industrias", "Metalúrgica", "Plásticos"),
    "Tecnología": ("Sistemas", "Soluciones Informáticas", "Tecnologías", "Software"),
    "Sanidad": ("Clínica", "Centro Médico", "Farmacia", "Clínica Dental"),
    "Educación": ("Academia", "Centro de Estudios", "Escuela Infantil", "Autoescuela"),
    "Transporte y logística": ("Transportes", "Logística", "Mensajería"),
    "Servicios profesionales": ("Asesoría", "Consultoría", "Gestoría", "Abogados"),
    "Agricultura y alimentación": ("Bodegas", "Conservas", "Aceites", "Panadería"),
    "Inmobiliario": ("Inmobiliaria", "Gestión de Inmuebles", "Fincas"),
    "Turismo": ("Viajes", "Hoteles", "Apartamentos Turísticos"),
    "Energía": ("Instalaciones Eléctricas", "Energías Renovables", "Solar"),
}
# (suffix, weight, CIF letter)
COMPANY_FORMS: tuple[tuple[str, float, str], ...] = (
    ("S.L.", 68, "B"), ("S.A.", 14, "A"), ("S.L.U.", 9, "B"), ("S. Coop.", 5, "F"), ("S.L.L.", 4, "B"),
)  # fmt: skip
COMPANY_SIZES: tuple[tuple[str, float, float], ...] = (  # (size, weight, contacts weight)
    (CompanySize.MICRO, 55, 1), (CompanySize.SMALL, 30, 2), (CompanySize.MEDIUM, 11, 4), (CompanySize.LARGE, 4, 8),
)  # fmt: skip

# (male, female, weight)
PROFESSIONS: tuple[tuple[str, str, float], ...] = (
    ("Abogado", "Abogada", 3), ("Administrativo", "Administrativa", 9), ("Arquitecto", "Arquitecta", 1),
    ("Autónomo", "Autónoma", 6), ("Camarero", "Camarera", 4), ("Comercial", "Comercial", 5),
    ("Conductor", "Conductora", 3), ("Consultor", "Consultora", 2), ("Contable", "Contable", 2),
    ("Dependiente", "Dependienta", 5), ("Diseñador gráfico", "Diseñadora gráfica", 1),
    ("Economista", "Economista", 1), ("Electricista", "Electricista", 2), ("Enfermero", "Enfermera", 3),
    ("Farmacéutico", "Farmacéutica", 1), ("Fisioterapeuta", "Fisioterapeuta", 1),
    ("Fontanero", "Fontanera", 1), ("Funcionario", "Funcionaria", 6), ("Ingeniero", "Ingeniera", 3),
    ("Informático", "Informática", 3), ("Maestro", "Maestra", 3), ("Mecánico", "Mecánica", 2),
    ("Médico", "Médica", 2), ("Periodista", "Periodista", 1), ("Peluquero", "Peluquera", 1),
    ("Profesor", "Profesora", 3), ("Programador", "Programadora", 2), ("Psicólogo", "Psicóloga", 1),
    ("Agricultor", "Agricultora", 2), ("Cocinero", "Cocinera", 2), ("Policía", "Policía", 1),
    ("Veterinario", "Veterinaria", 1), ("Empresario", "Empresaria", 2),
    ("Técnico de mantenimiento", "Técnica de mantenimiento", 2),
    ("Auxiliar de enfermería", "Auxiliar de enfermería", 2), ("Agente inmobiliario", "Agente inmobiliaria", 1),
    ("Traductor", "Traductora", 1), ("Fotógrafo", "Fotógrafa", 1), ("Carpintero", "Carpintera", 1),
)  # fmt: skip
JOB_TITLES: tuple[tuple[str, str, float], ...] = (
    ("Gerente", "Gerente", 14), ("Director general", "Directora general", 5),
    ("Director comercial", "Directora comercial", 6), ("Responsable de compras", "Responsable de compras", 14),
    ("Jefe de administración", "Jefa de administración", 8), ("Director financiero", "Directora financiera", 4),
    ("Responsable de informática", "Responsable de informática", 6), ("Técnico de compras", "Técnica de compras", 8),
    ("Responsable de mantenimiento", "Responsable de mantenimiento", 5),
    ("Director de operaciones", "Directora de operaciones", 3), ("Socio fundador", "Socia fundadora", 6),
    ("Administrativo", "Administrativa", 10), ("Responsable de oficina", "Responsable de oficina", 7),
)  # fmt: skip

STREET_TYPES = (("Calle", 62), ("Avenida", 14), ("Plaza", 6), ("Paseo", 5), ("Camino", 3), ("Ronda", 3),
                ("Travesía", 3), ("Carretera", 2), ("Pasaje", 2))  # fmt: skip
STREET_NAMES = (
    "Mayor", "Real", "Nueva", "de la Constitución", "de Cervantes", "del Sol", "de San Francisco",
    "de Alcalá", "de la Paz", "del Carmen", "de Goya", "de Colón", "de la Libertad", "de Andalucía",
    "de Castilla", "de la Estación", "del Mar", "de los Olivos", "de las Flores", "de Santiago",
    "de la Iglesia", "del Pilar", "de Valencia", "de Madrid", "de Antonio Machado", "de Federico García Lorca",
    "de Miguel de Unamuno", "de Rosalía de Castro", "de Juan Ramón Jiménez", "de Blas de Otero",
    "de la Ermita", "del Molino", "de la Fuente", "del Río", "de los Almendros", "de Pablo Picasso",
    "de la Virgen", "de San Juan", "de Europa", "de América", "de la Marina", "del Progreso",
)  # fmt: skip

# Sales: (category, price factor, weight among individuals, weight among companies)
CATEGORIES: tuple[tuple[str, float, float, float], ...] = (
    ("Electrónica", 2.2, 14, 6), ("Informática", 3.0, 10, 22), ("Telefonía", 1.8, 10, 8),
    ("Electrodomésticos", 3.5, 9, 3), ("Hogar y cocina", 0.9, 16, 4), ("Bricolaje", 0.8, 8, 6),
    ("Jardín", 0.9, 6, 2), ("Deporte", 0.9, 8, 1), ("Juguetes", 0.7, 6, 0.5),
    ("Papelería y oficina", 0.5, 5, 25), ("Instalación y reparación", 1.3, 4, 12), ("Garantías", 0.5, 4, 6),
)  # fmt: skip
SALES_CHANNELS: tuple[tuple[str, float, float], ...] = (
    (SalesChannel.WEB, 42, 25), (SalesChannel.STORE, 32, 8), (SalesChannel.PHONE, 6, 22),
    (SalesChannel.SALES_REP, 2, 40), (SalesChannel.MARKETPLACE, 15, 2), (SalesChannel.OTHER, 3, 3),
)  # fmt: skip
CONTACT_CHANNELS: tuple[tuple[str, float], ...] = (
    (Channel.EMAIL, 40), (Channel.PHONE, 20), (Channel.WHATSAPP, 18), (Channel.SMS, 5), (Channel.MAIL, 5),
    (Channel.IN_PERSON, 12),
)  # fmt: skip
CHANNEL_WORDS = {
    Channel.EMAIL: "correo electrónico", Channel.PHONE: "teléfono", Channel.WHATSAPP: "WhatsApp",
    Channel.SMS: "SMS", Channel.MAIL: "correo postal", Channel.IN_PERSON: "en persona",
}  # fmt: skip
INCOME_RANGES: tuple[tuple[str, float], ...] = (
    (IncomeRange.UNDER_15K, 12), (IncomeRange.FROM_15K, 26), (IncomeRange.FROM_25K, 28),
    (IncomeRange.FROM_40K, 18), (IncomeRange.FROM_60K, 11), (IncomeRange.OVER_100K, 5),
)  # fmt: skip
# Acquisition source weights for suspects, prospects and buyers.
SOURCES: dict[str, tuple[tuple[str, float], ...]] = {
    Stage.SUSPECT: (
        (Source.PURCHASED_LIST, 45), (Source.EVENT, 20), (Source.IMPORT, 15), (Source.SOCIAL, 10), (Source.OTHER, 10),
    ),
    Stage.PROSPECT: (
        (Source.WEB, 35), (Source.SOCIAL, 20), (Source.REFERRAL, 15), (Source.TELEMARKETING, 15),
        (Source.EVENT, 10), (Source.OTHER, 5),
    ),
    Stage.CUSTOMER: (
        (Source.WEB, 35), (Source.SOCIAL, 15), (Source.REFERRAL, 15), (Source.IMPORT, 10),
        (Source.TELEMARKETING, 8), (Source.EVENT, 7), (Source.PURCHASED_LIST, 5), (Source.OTHER, 5),
    ),
}  # fmt: skip
EMAIL_DOMAINS = (("example.com", 45), ("example.net", 30), ("example.org", 25))
CUSTOMER_NOTES = (
    "Prefiere que le llamen por la tarde.",
    "No enviar publicidad en papel.",
    "Pide siempre factura con sus datos fiscales completos.",
    "Cliente desde la apertura de la tienda.",
    "Habla también inglés y francés.",
    "Recomendado por otro cliente.",
    "Avisar antes de pasar a entregar: trabaja por las mañanas.",
)
STORES = (
    "Madrid - Serrano",
    "Barcelona - Diagonal",
    "Valencia - Colón",
    "Sevilla - Nervión",
    "Tienda online",
)
TAGS = ("VIP", "Newsletter", "Feria Hogar 2025", "Black Friday", "Reclamación abierta", "Cuenta clave")


class Template(NamedTuple):
    kind: str
    direction: str
    subject: str
    body: str
    outcome: str


_T = Template
_C, _E, _M, _V, _CH, _S, _N = (
    InteractionKind.CALL, InteractionKind.EMAIL, InteractionKind.MEETING, InteractionKind.VISIT,
    InteractionKind.CHAT, InteractionKind.SOCIAL, InteractionKind.NOTE,
)  # fmt: skip
_OUT, _IN, _INT = Direction.OUTBOUND, Direction.INBOUND, Direction.INTERNAL
# Interactions by moment: before the first purchase, while buying, and once a customer has lapsed.
# Placeholders: {nombre}, {categoria}, {ciudad}, {canal}.
TEMPLATES: dict[str, tuple[Template, ...]] = {
    "pre": (
        _T(_C, _OUT, "Primer contacto telefónico",
           "Llamada de presentación a {nombre}. Le explico el catálogo y las condiciones para nuevos clientes.",
           Outcome.POSITIVE),
        _T(_C, _OUT, "Llamada sin respuesta", "No contesta. Volver a intentarlo la semana que viene.",
           Outcome.NO_ANSWER),
        _T(_E, _OUT, "Envío de catálogo y tarifa",
           "Envío a {nombre} el catálogo de {categoria} y la tarifa de precios vigente.", Outcome.NEUTRAL),
        _T(_E, _IN, "Solicitud de información",
           "{nombre} pide información sobre {categoria} desde el formulario de la web.", Outcome.FOLLOW_UP),
        _T(_M, _OUT, "Reunión de presentación",
           "Reunión con {nombre} para conocer sus necesidades. Le interesa sobre todo {categoria}.",
           Outcome.POSITIVE),
        _T(_S, _IN, "Mensaje por redes sociales",
           "Pregunta por Instagram si tenemos {categoria} disponible para recoger en {ciudad}.", Outcome.FOLLOW_UP),
        _T(_CH, _IN, "Consulta en el chat de la web",
           "Consulta sobre los plazos de entrega a {ciudad} y los gastos de envío.", Outcome.NEUTRAL),
        _T(_C, _OUT, "Presupuesto pendiente",
           "Llamo a {nombre} para saber si ha revisado el presupuesto. Lo está comparando con otra tienda.",
           Outcome.FOLLOW_UP),
        _T(_N, _INT, "Datos de contacto revisados",
           "Revisados teléfono y correo. Prefiere que le contactemos por {canal}.", ""),
    ),
    "buying": (
        _T(_C, _IN, "Consulta sobre un pedido",
           "{nombre} llama para saber cuándo llegará su último pedido. Le doy el número de seguimiento.",
           Outcome.POSITIVE),
        _T(_C, _IN, "Incidencia con la entrega",
           "El pedido llegó con la caja dañada. Abrimos incidencia con el transportista y le enviamos otro.",
           Outcome.NEGATIVE),
        _T(_C, _OUT, "Llamada de seguimiento",
           "Llamo para saber si está satisfecho con su compra de {categoria}. Todo correcto.", Outcome.POSITIVE),
        _T(_E, _OUT, "Oferta personalizada",
           "Envío a {nombre} un descuento del 10 % en {categoria} por ser cliente.", Outcome.NEUTRAL),
        _T(_E, _IN, "Solicitud de factura",
           "Pide una copia de la factura de su última compra. Enviada por {canal}.", Outcome.POSITIVE),
        _T(_V, _IN, "Visita a la tienda",
           "{nombre} pasa por la tienda para ver las novedades de {categoria}.", Outcome.POSITIVE),
        _T(_M, _OUT, "Reunión de seguimiento de cuenta",
           "Revisamos con {nombre} los pedidos del último trimestre y la previsión de compras.", Outcome.POSITIVE),
        _T(_CH, _IN, "Consulta sobre la garantía",
           "Pregunta cómo tramitar la garantía de un producto de {categoria}.", Outcome.FOLLOW_UP),
        _T(_N, _INT, "Cliente satisfecho", "Comenta que recomendará la tienda a sus conocidos de {ciudad}.", ""),
        _T(_S, _IN, "Reseña en redes sociales", "Publica una reseña positiva de su última compra.",
           Outcome.POSITIVE),
        _T(_C, _IN, "Devolución de un producto",
           "Quiere devolver un artículo de {categoria}: no era lo que esperaba. Le explico el procedimiento.",
           Outcome.NEUTRAL),
    ),
    "lapsed": (
        _T(_C, _OUT, "Llamada de recuperación",
           "Hace meses que {nombre} no compra. Le ofrezco un descuento de bienvenida para volver.",
           Outcome.NEUTRAL),
        _T(_C, _OUT, "Llamada de recuperación",
           "No contesta. Le dejo un mensaje con la promoción de {categoria}.", Outcome.NO_ANSWER),
        _T(_E, _OUT, "Encuesta de satisfacción",
           "Enviamos la encuesta de satisfacción para saber por qué ha dejado de comprar.", Outcome.NEUTRAL),
        _T(_N, _INT, "Motivo de baja", "Se ha mudado fuera de nuestra zona de reparto.", ""),
        _T(_N, _INT, "Motivo de baja", "Ha encontrado mejores precios en otra tienda de {ciudad}.", ""),
        _T(_C, _OUT, "Llamada de recuperación",
           "Le interesa la nueva gama de {categoria}; quedamos en enviarle una oferta.", Outcome.POSITIVE),
    ),
}  # fmt: skip
TASK_TITLES = (
    "Llamar a {nombre} para confirmar el pedido",
    "Enviar presupuesto a {nombre}",
    "Preparar oferta de renovación para {nombre}",
    "Revisar la incidencia de {nombre}",
    "Recordar a {nombre} la promoción de temporada",
    "Enviar catálogo a {nombre}",
    "Actualizar los datos de contacto de {nombre}",
    "Llamar a {nombre}: lleva meses sin comprar",
    "Visitar a {nombre}",
)
TEAM_TASK_TITLES = (
    "Preparar el informe mensual de ventas",
    "Revisar los clientes inactivos de la cartera",
    "Reunión del equipo comercial",
    "Actualizar la tarifa de precios",
)
